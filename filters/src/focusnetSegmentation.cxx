/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetSegmentation.h"

#include "focusnetError.h"
#include "focusnetImageIO.hxx"
#include "focusnetModel.h"
#include "itkFocusNetImageFilter.h"
#include "itkImageRegionConstIterator.h"
#include "itkRGBPixel.h"

#include <filesystem>

namespace focusnet
{
namespace
{
namespace fs = std::filesystem;

void
CheckOutputFile(const std::string & fileName, const std::string & input, bool overwrite)
{
  std::error_code error;
  const fs::path  folder = fs::path(fileName).has_parent_path() ? fs::path(fileName).parent_path() : fs::path(".");
  if (!fs::is_directory(folder, error))
  {
    throw Error(fileName + ": the output folder " + folder.string() + " does not exist");
  }
  if (fs::exists(fileName, error))
  {
    if (fs::equivalent(fileName, input, error))
    {
      throw Error(fileName + ": the output would replace the input");
    }
    if (!overwrite)
    {
      throw Error(fileName + ": exists; pass --overwrite to replace it");
    }
  }
}

template<typename TImage>
SegmentationResult
Segment(const ImageSource &                  source,
        const std::string &                  output,
        const std::shared_ptr<const Model> & model,
        const SegmentationOptions &          options)
{
  using FilterType = itk::FocusNetImageFilter<TImage>;
  constexpr unsigned int dimension = TImage::ImageDimension;

  typename TImage::Pointer image = ReadImageSource<TImage>(source);

  auto filter = FilterType::New();
  filter->SetInput(image);
  filter->SetModel(model);
  filter->SetDevice(options.inference.device);
  filter->SetNumberOfTorchThreads(static_cast<unsigned int>(std::max(0, options.inference.threads)));
  filter->SetBatchSize(static_cast<unsigned int>(std::max(1, options.inference.batchSize)));
  filter->SetTestTimeAugmentation(options.inference.flipAugmentation);
  filter->SetThreshold(options.threshold);
  filter->SetGenerateProbabilityMap(!options.probabilityFileName.empty());
  if (options.sliceAxis >= 0)
  {
    if (dimension == 2 || options.sliceAxis >= static_cast<int>(dimension))
    {
      throw Error(source.path + ": slice axis " + std::to_string(options.sliceAxis) + " is not an axis of this " +
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
    throw Error(source.path + ": segmentation failed: " + e.GetDescription());
  }

  if (!options.probabilityFileName.empty())
  {
    WriteImageAtomically(filter->GetProbabilityOutput(), options.probabilityFileName);
  }
  try
  {
    WriteImageAtomically(filter->GetOutput(), output);
  }
  catch (...)
  {
    std::error_code ignored;
    if (!options.probabilityFileName.empty())
    {
      fs::remove(options.probabilityFileName, ignored);
    }
    throw;
  }

  SegmentationResult result;
  result.source = source;
  const auto region = filter->GetOutput()->GetLargestPossibleRegion();
  result.slices = dimension == 3 ? region.GetSize(filter->GetSliceAxis()) : 1;
  for (itk::ImageRegionConstIterator<typename FilterType::OutputImageType> it(filter->GetOutput(), region);
       !it.IsAtEnd();
       ++it)
  {
    result.labelVoxels += it.Get() != 0;
  }
  double voxel = 1.0;
  for (unsigned int d = 0; d < dimension; ++d)
  {
    voxel *= filter->GetOutput()->GetSpacing()[d];
  }
  result.labelVolumeMm3 = voxel * static_cast<double>(result.labelVoxels);
  return result;
}
} // namespace

SegmentationResult
SegmentImageFile(const std::string &                  input,
                 const std::string &                  output,
                 const std::shared_ptr<const Model> & model,
                 const SegmentationOptions &          options)
{
  if (!model)
  {
    throw Error("no model given");
  }
  const ImageSource source = InspectImageSource(input, options.seriesUid);
  CheckOutputImageFileName(output, source.dimension, false);
  CheckOutputFile(output, input, options.overwrite);
  if (!options.probabilityFileName.empty())
  {
    CheckOutputImageFileName(options.probabilityFileName, source.dimension, true);
    CheckOutputFile(options.probabilityFileName, input, options.overwrite);
  }

  using RGB = itk::RGBPixel<unsigned char>;
  const bool color = source.components > 1;
  if (source.dimension == 2)
  {
    return color ? Segment<itk::Image<RGB, 2>>(source, output, model, options)
                 : Segment<itk::Image<float, 2>>(source, output, model, options);
  }
  return color ? Segment<itk::Image<RGB, 3>>(source, output, model, options)
               : Segment<itk::Image<float, 3>>(source, output, model, options);
}

} // namespace focusnet
