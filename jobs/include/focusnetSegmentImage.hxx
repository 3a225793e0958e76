/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetSegmentImage_hxx
#define focusnetSegmentImage_hxx

// Segmenting an ITK image already in memory with the settings of SegmentationOptions: the one place that turns
// those settings into itk::FocusNetImageFilter's, for the file-to-file job and the Python bindings alike.

#include "focusnetError.h"
#include "focusnetSegmentation.h"
#include "itkFocusNetImageFilter.h"

#include <memory>
#include <string>

namespace focusnet
{

/** Runs itk::FocusNetImageFilter over image with options' inference settings (device, threads, batch size, flip
 * augmentation, threshold, slice axis, progress) and returns the updated filter: its output 0 is the label map, its
 * output 1 the probabilities when probabilities is true. name names the image in messages. Throws focusnet::Error. */
template <typename TImage>
typename itk::FocusNetImageFilter<TImage>::Pointer
SegmentImage(const TImage *                       image,
             const std::shared_ptr<const Model> & model,
             const SegmentationOptions &          options,
             bool                                 probabilities,
             const std::string &                  name)
{
  using FilterType = itk::FocusNetImageFilter<TImage>;
  constexpr unsigned int dimension = TImage::ImageDimension;

  auto filter = FilterType::New();
  filter->SetInput(image);
  filter->SetModel(model);
  filter->SetInferenceOptions(options.inference); // checked by the filter before it runs (VerifyPreconditions)
  if (options.inference.threads > 0)
  {
    filter->SetNumberOfWorkUnits(static_cast<itk::ThreadIdType>(options.inference.threads)); // the slice copying
  }
  filter->SetThreshold(options.threshold);
  filter->SetGenerateProbabilityMap(probabilities);
  if (options.sliceAxis != -1)
  {
    if (dimension == 2 || options.sliceAxis < 0 || options.sliceAxis >= static_cast<int>(dimension))
    {
      throw Error(name + ": slice axis " + std::to_string(options.sliceAxis) + " is not an axis of this " +
                  std::to_string(dimension) + "D image" + (dimension == 2 ? " (a 2D image is one slice)" : ""));
    }
    filter->SetSliceAxis(static_cast<unsigned int>(options.sliceAxis));
  }
  if (options.progress)
  {
    FilterType * raw = filter.GetPointer();
    filter->AddObserver(itk::ProgressEvent(),
                        [&options, raw](const itk::EventObject &) { options.progress(raw->GetProgress()); });
  }
  try
  {
    filter->Update();
  }
  catch (const itk::ExceptionObject & e)
  {
    throw Error(name + ": segmentation failed: " + e.GetDescription());
  }
  return filter;
}

} // namespace focusnet

#endif
