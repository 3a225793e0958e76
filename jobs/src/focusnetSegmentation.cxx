/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetSegmentation.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetImageIO.hxx"
#include "focusnetModel.h"
#include "focusnetSegmentImage.hxx"
#include "focusnetSlicerSegmentation.h"
#include "itkImageRegionConstIterator.h"
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

/** A picture of one slice (the middle one of a volume) with the outline of the label in the label's colour:
 * gray images are windowed to their 1st..99th percentile, RGB images shown as they are. */
template <typename TImage, typename TLabelImage>
void
WriteOverlay(const TImage *                      image,
             const TLabelImage *                 labels,
             unsigned int                        axis,
             const std::array<std::uint8_t, 3> & colour,
             const std::string &                 fileName)
{
  using RGB = itk::RGBPixel<unsigned char>;
  using PictureType = itk::Image<RGB, 2>;
  const auto region = image->GetLargestPossibleRegion();
  const auto slice = itk::FocusNetDetail::SliceRegion(
    region, axis, axis < TImage::ImageDimension ? static_cast<int64_t>(region.GetSize(axis) / 2) : 0);
  const auto [width, height] = itk::FocusNetDetail::SliceShape(region, axis);

  std::vector<float>        values;
  std::vector<std::uint8_t> inside;
  for (itk::ImageRegionConstIterator<TLabelImage> it(labels, slice); !it.IsAtEnd(); ++it)
  {
    inside.push_back(it.Get() != 0);
  }
  for (itk::ImageRegionConstIterator<TImage> it(image, slice); !it.IsAtEnd(); ++it)
  {
    if constexpr (itk::FocusNetDetail::ComponentCount<typename TImage::PixelType>() == 1)
    {
      values.push_back(static_cast<float>(it.Get()));
    }
    else
    {
      for (unsigned c = 0; c < 3; ++c)
      {
        values.push_back(static_cast<float>(it.Get()[c]));
      }
    }
  }
  float      low = 0.0F, high = 255.0F;
  const bool gray = values.size() == inside.size();
  if (gray)
  {
    std::vector<float> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    low = sorted[sorted.size() / 100];
    high = std::max(low + 1e-3F, sorted[sorted.size() - 1 - sorted.size() / 100]);
  }

  auto picture = PictureType::New();
  picture->SetRegions(
    itk::Size<2>{ { static_cast<itk::SizeValueType>(width), static_cast<itk::SizeValueType>(height) } });
  picture->Allocate();
  RGB * out = picture->GetBufferPointer();
  // The outline is two pixels wide: the label's edge pixels and the background pixels touching them.
  auto onEdge = [&](int64_t y, int64_t x)
  {
    for (int64_t dy = -1; dy <= 1; ++dy)
    {
      for (int64_t dx = -1; dx <= 1; ++dx)
      {
        const int64_t ny = y + dy, nx = x + dx;
        const bool    neighbour = ny >= 0 && ny < height && nx >= 0 && nx < width && inside[ny * width + nx];
        if (neighbour != static_cast<bool>(inside[y * width + x]))
        {
          return true;
        }
      }
    }
    return false;
  };
  for (int64_t y = 0; y < height; ++y)
  {
    for (int64_t x = 0; x < width; ++x)
    {
      const int64_t i = y * width + x;
      RGB &         pixel = out[i];
      for (unsigned c = 0; c < 3; ++c)
      {
        const float v = gray ? values[i] : values[3 * i + c];
        pixel[c] = static_cast<unsigned char>(std::clamp((v - low) / (high - low), 0.0F, 1.0F) * 255.0F + 0.5F);
      }
      if (onEdge(y, x))
      {
        pixel.Set(colour[0], colour[1], colour[2]);
      }
    }
  }
  WriteImageAtomically(picture.GetPointer(), fileName);
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
    SegmentImage(image.GetPointer(), model, options, !options.probabilityFileName.empty(), source.path);

  // Every output is written atomically; when one fails, those already written by this call are removed.
  std::vector<std::string> written;
  try
  {
    if (!options.overlayFileName.empty())
    {
      const unsigned int axis = dimension == 3 ? filter->GetSliceAxis() : dimension;
      WriteOverlay(
        image.GetPointer(), filter->GetOutput(), axis, model->Metadata().label.color, options.overlayFileName);
      written.push_back(options.overlayFileName);
    }
    if (!options.probabilityFileName.empty())
    {
      WriteImageAtomically(filter->GetProbabilityOutput(), options.probabilityFileName);
      written.push_back(options.probabilityFileName);
    }
    if (!options.dicomSegmentationFileName.empty())
    {
      const auto  size = filter->GetOutput()->GetLargestPossibleRegion().GetSize();
      LabelVolume labels;
      labels.data = filter->GetOutput()->GetBufferPointer();
      labels.columns = size[0];
      labels.rows = size[1];
      labels.frames = dimension == 3 ? size[dimension - 1] : 1;
      WriteDicomSegmentation(
        labels, source.files, model->Metadata(), options.dicomSegmentationFileName, options.dicomSegmentation);
      written.push_back(options.dicomSegmentationFileName);
    }
    if (!options.slicerSegmentationFileName.empty())
    {
      WriteSlicerSegmentation(filter->GetOutput(), model->Metadata(), options.slicerSegmentationFileName);
      written.push_back(options.slicerSegmentationFileName);
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
  const std::string & input = source.path;
  if (output.empty() && options.dicomSegmentationFileName.empty() && options.slicerSegmentationFileName.empty())
  {
    throw Error(input + ": no output file given");
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
    if (FormatExtension(options.overlayFileName) != ".png")
    {
      throw Error(options.overlayFileName + ": the overlay picture is written as PNG; name it .png");
    }
    CheckOutputFile(options.overlayFileName, options.overwrite, input);
  }
  if (!options.probabilityFileName.empty())
  {
    CheckOutputImageFileName(options.probabilityFileName, source.dimension, true);
    CheckOutputFile(options.probabilityFileName, options.overwrite, input);
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
  return color ? Segment<itk::Image<RGB, 3>>(source, output, model, options)
               : Segment<itk::Image<float, 3>>(source, output, model, options);
}

} // namespace focusnet
