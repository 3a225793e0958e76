/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetSegmentation.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetImageIO.hxx"
#include "focusnetModel.h"
#include "focusnetOverlay.hxx"
#include "focusnetSegmentImage.hxx"
#include "focusnetSlicerSegmentation.h"
#include "itkRGBPixel.h"

#include <algorithm>
#include <array>
#include <tuple>
#include <cstdlib>
#include <filesystem>

namespace focusnet
{
namespace
{
namespace fs = std::filesystem;
using LabelVolume3D = itk::Image<std::uint8_t, 3>;

LabelVolume3D::ConstPointer
AsVolume(const LabelVolume3D * labels)
{
  return labels;
}

LabelVolume3D::ConstPointer
AsVolume(const itk::Image<std::uint8_t, 2> * labels)
{
  return OneSliceVolume(labels).GetPointer();
}

template <typename TImage>
SegmentationResult
Segment(const ImageSource &                  source,
        const std::string &                  output,
        const std::shared_ptr<const Model> & model,
        const SegmentationOptions &          options)
{
  using FilterType = itk::FocusNetImageFilter<TImage>;
  constexpr unsigned int dimension = TImage::ImageDimension;

  typename TImage::Pointer     image = ReadImageSource<TImage>(source);
  typename FilterType::Pointer filter =
    SegmentImage(image.GetPointer(),
                 model,
                 options,
                 !options.probabilityFileName.empty() || !options.uncertaintyFileName.empty(),
                 source.path);

  // What the outputs say about the result (the overlay and the DICOM SEG carry its flags) is known before they are
  // written.
  SegmentationResult result;
  result.source = source;
  const auto size = filter->GetOutput()->GetBufferedRegion().GetSize();
  result.slices = dimension == 3 ? size[filter->GetSliceAxis()] : 1;
  result.sliceQuality = filter->GetSliceQuality();
  const QualityReference & reference = model->Metadata().quality;
  result.quality = SummarizeQuality(result.sliceQuality, filter->GetLabelComponents(), reference);
  result.flags = FlagQuality(result.quality,
                             reference,
                             source.dicomInstances.empty() ? std::string() : source.dicomInstances.front().modality,
                             model->Metadata().label.name);
  const auto * labels = filter->GetOutput()->GetBufferPointer();
  result.labelVoxels = static_cast<std::uint64_t>(std::count_if(
    labels, labels + filter->GetOutput()->GetBufferedRegion().GetNumberOfPixels(), [](auto v) { return v != 0; }));
  double voxel = 1.0;
  for (unsigned int d = 0; d < dimension; ++d)
  {
    voxel *= filter->GetOutput()->GetSpacing()[d];
  }
  result.labelVolumeMm3 = voxel * static_cast<double>(result.labelVoxels);

  // Every output is written atomically; when one fails, those already written by this call are removed.
  std::vector<std::string> written;
  try
  {
    if (!options.overlayFileName.empty())
    {
      const unsigned int axis = dimension == 3 ? filter->GetSliceAxis() : dimension;
      OverlayOptions     overlay;
      for (const QualityFlag & flag : result.flags)
      {
        overlay.flags.push_back(flag.name);
      }
      WriteOverlay(
        image.GetPointer(), filter->GetOutput(), axis, model->Metadata().label.color, overlay, options.overlayFileName);
      written.push_back(options.overlayFileName);
    }
    if (!options.probabilityFileName.empty())
    {
      WriteImageAtomically(filter->GetProbabilityOutput(), options.probabilityFileName);
      written.push_back(options.probabilityFileName);
    }
    if (!options.uncertaintyFileName.empty())
    {
      const auto uncertainty =
        MapPixels<typename FilterType::ProbabilityImageType>(filter->GetProbabilityOutput(), BinaryEntropy);
      WriteImageAtomically(uncertainty.GetPointer(), options.uncertaintyFileName);
      written.push_back(options.uncertaintyFileName);
    }
    if (!options.dicomSegmentationFileName.empty())
    {
      const auto  size = filter->GetOutput()->GetLargestPossibleRegion().GetSize();
      LabelVolume labels;
      labels.data = filter->GetOutput()->GetBufferPointer();
      labels.columns = size[0];
      labels.rows = size[1];
      labels.frames = dimension == 3 ? size[dimension - 1] : 1;
      DicomSegmentationOptions segmentation = options.dicomSegmentation;
      segmentation.qualityFlags = FlagNames(result.flags);
      WriteDicomSegmentation(labels, source.files, model->Metadata(), options.dicomSegmentationFileName, segmentation);
      written.push_back(options.dicomSegmentationFileName);
    }
    if (!options.slicerSegmentationFileName.empty())
    {
      WriteSlicerSegmentation(filter->GetOutput(), model->Metadata(), options.slicerSegmentationFileName);
      written.push_back(options.slicerSegmentationFileName);
    }
    if (!options.labelMapOutputs.empty())
    {
      const auto volume = AsVolume(filter->GetOutput());
      for (const LabelMapOutput & more : options.labelMapOutputs)
      {
        more.write(volume.GetPointer(), model->Metadata().label, more.fileName);
        written.push_back(more.fileName);
      }
    }
    if (!output.empty())
    {
      WriteImageAtomically(filter->GetOutput(), output);
    }
  }
  catch (...)
  {
    std::error_code ignored;
    for (const std::string & file : written)
    {
      fs::remove(file, ignored);
    }
    throw;
  }

  return result;
}
} // namespace

std::string
ExecutableFolder()
{
  return fs::read_symlink("/proc/self/exe").parent_path().string();
}

std::string
DefaultModelFile(const std::string & installed)
{
  if (const char * environment = std::getenv("FOCUSNET_MODEL"); environment != nullptr && *environment != '\0')
  {
    return environment;
  }
  std::error_code error;
  if (!fs::exists(installed, error))
  {
    throw Error("no model named, $FOCUSNET_MODEL is not set and no default model is installed at " + installed,
                Error::Remedy::ChooseModel);
  }
  return installed;
}

SegmentationResult
SegmentImageFile(const std::string &                  input,
                 const std::string &                  output,
                 const std::shared_ptr<const Model> & model,
                 const SegmentationOptions &          options)
{
  const ImageSource source = InspectImageSource(input, options.seriesUid);
  // An output named .dcm or .seg.nrrd is that kind of segmentation instead of a plain label map.
  for (auto [matches, named, kind] :
       { std::tuple{ FormatExtension(output) == ".dcm", &SegmentationOptions::dicomSegmentationFileName, "a DICOM" },
         std::tuple{
           IsSlicerSegmentationFileName(output), &SegmentationOptions::slicerSegmentationFileName, "a Slicer" } })
  {
    if (matches)
    {
      if (!(options.*named).empty())
      {
        throw Error(output + ": the output is already " + kind + " segmentation; do not name another one");
      }
      SegmentationOptions only = options;
      only.*named = output;
      return SegmentImageSource(source, {}, model, only);
    }
  }
  return SegmentImageSource(source, output, model, options);
}

SegmentationResult
SegmentImageSource(const ImageSource &                  source,
                   const std::string &                  output,
                   const std::shared_ptr<const Model> & model,
                   const SegmentationOptions &          options)
{
  if (!model)
  {
    throw Error("no model given");
  }
  CheckInferenceOptions(options.inference);
  CheckThreshold(options.threshold);
  const std::string & input = source.path;
  if (output.empty() && options.dicomSegmentationFileName.empty() && options.slicerSegmentationFileName.empty() &&
      options.labelMapOutputs.empty())
  {
    throw Error(input + ": no output file given");
  }
  for (const LabelMapOutput & more : options.labelMapOutputs)
  {
    CheckOutputFile(more.fileName, options.overwrite, input);
  }
  if (!options.slicerSegmentationFileName.empty())
  {
    if (!IsSlicerSegmentationFileName(options.slicerSegmentationFileName))
    {
      throw Error(options.slicerSegmentationFileName + ": a Slicer segmentation is named .seg.nrrd");
    }
    CheckOutputFile(options.slicerSegmentationFileName, options.overwrite, input);
  }
  if (!output.empty())
  {
    CheckOutputImageFileName(output, source.dimension, false);
    CheckOutputFile(output, options.overwrite, input);
  }
  if (!options.overlayFileName.empty())
  {
    CheckPictureFileName(options.overlayFileName, "the overlay picture");
    CheckOutputFile(options.overlayFileName, options.overwrite, input);
  }
  for (const std::string & map : { options.probabilityFileName, options.uncertaintyFileName })
  {
    if (!map.empty())
    {
      CheckOutputImageFileName(map, source.dimension, true);
      CheckOutputFile(map, options.overwrite, input);
    }
  }
  if (!options.dicomSegmentationFileName.empty())
  {
    CheckOutputFile(options.dicomSegmentationFileName, options.overwrite, input);
    if (const std::string refusal = DicomSegmentationRefusal(source); !refusal.empty())
    {
      throw Error(options.dicomSegmentationFileName + ": cannot write a DICOM Segmentation: " + refusal +
                  "; write a label map (.nrrd, .nii.gz) instead");
    }
  }

  using RGB = itk::RGBPixel<unsigned char>;
  const bool color = source.components > 1;
  if (source.dimension == 2)
  {
    return color ? Segment<itk::Image<RGB, 2>>(source, output, model, options)
                 : Segment<itk::Image<float, 2>>(source, output, model, options);
  }
  if (color)
  {
    return Segment<itk::Image<RGB, 3>>(source, output, model, options);
  }
  // 16-bit signed volumes (CT in Hounsfield units, much of MR) are segmented as read, the filter converting a batch
  // at a time: a float copy of the volume would double its memory, and filling fresh memory costs more than the
  // conversion.
  if (source.signedInteger && source.bitsPerComponent == 16)
  {
    return Segment<itk::Image<std::int16_t, 3>>(source, output, model, options);
  }
  return Segment<itk::Image<float, 3>>(source, output, model, options);
}

} // namespace focusnet
