/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetImageIO_hxx
#define focusnetImageIO_hxx

// Reading and writing typed ITK images: included by the few translation units that instantiate them.

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetImageIO.h"

#include "itkGDCMImageIO.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkImageSeriesReader.h"
#include "itkRGBPixel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace focusnet
{

namespace detail
{
/** Reads the pixels of source into TImage as ITK converts them. A DICOM series that fails is read again file by
 * file to name the damaged one. */
template <typename TImage>
typename TImage::Pointer
ReadPixels(const ImageSource & source)
{
  auto failed = [](const std::string & name, const itk::ExceptionObject & e)
  { return Error(name + ": cannot read image, the file may be damaged: " + e.GetDescription()); };
  if (source.dicom && source.files.size() > 1)
  {
    auto reader = itk::ImageSeriesReader<TImage>::New();
    reader->SetImageIO(itk::GDCMImageIO::New());
    reader->SetFileNames(source.files);
    try
    {
      reader->Update();
      return reader->GetOutput();
    }
    catch (const itk::ExceptionObject & e)
    {
      for (const std::string & file : source.files)
      {
        auto one = itk::ImageFileReader<TImage>::New();
        one->SetImageIO(itk::GDCMImageIO::New());
        one->SetFileName(file);
        try
        {
          one->Update();
        }
        catch (const itk::ExceptionObject & fileError)
        {
          throw failed(file, fileError);
        }
      }
      throw failed(source.path, e);
    }
  }
  auto reader = itk::ImageFileReader<TImage>::New();
  reader->SetFileName(source.files.front());
  try
  {
    reader->Update();
  }
  catch (const itk::ExceptionObject & e)
  {
    throw failed(source.path, e);
  }
  return reader->GetOutput();
}

/** Throws focusnet::Error naming the image when a value of its floating-point pixels is NaN or infinite. */
template <typename TImage>
void
CheckFinite(const TImage * image, const std::string & name)
{
  using PixelType = typename TImage::PixelType;
  constexpr unsigned int components = sizeof(PixelType) / sizeof(float);
  if constexpr (std::is_same_v<typename itk::NumericTraits<PixelType>::ValueType, float>)
  {
    const auto * values = reinterpret_cast<const float *>(image->GetBufferPointer());
    const auto   count = std::count_if(values,
                                     values + components * image->GetLargestPossibleRegion().GetNumberOfPixels(),
                                     [](float v) { return !std::isfinite(v); });
    if (count > 0)
    {
      throw Error(name + ": " + std::to_string(count) +
                  " values are NaN or infinite; FocusNet segments finite intensities only");
    }
  }
}
} // namespace detail

/** A new TOutputImage with input's geometry (over its buffered region), each pixel map(the input's pixel). */
template <typename TOutputImage, typename TInputImage, typename TMap>
typename TOutputImage::Pointer
MapPixels(const TInputImage * input, TMap map)
{
  auto output = TOutputImage::New();
  output->CopyInformation(input);
  output->SetRegions(input->GetBufferedRegion());
  output->Allocate();
  std::transform(input->GetBufferPointer(),
                 input->GetBufferPointer() + input->GetBufferedRegion().GetNumberOfPixels(),
                 output->GetBufferPointer(),
                 map);
  return output;
}

/** Reads what InspectImageSource found into TImage (DICOM series: HU for CT, from rescale slope/intercept). A file of
 * floating-point values is refused when one is NaN or infinite. Colour read as 8-bit RGB is scaled from the file's
 * range (16-bit: 0..65535 to 0..255; floating point: clamped to 0..255). Throws focusnet::Error naming the file. */
template <typename TImage>
typename TImage::Pointer
ReadImageSource(const ImageSource & source)
{
  RegisterImageIOFactories();
  using PixelType = typename TImage::PixelType;
  constexpr bool rgb = std::is_same_v<PixelType, itk::RGBPixel<unsigned char>>;
  constexpr bool scalar = std::is_arithmetic_v<PixelType>;
  if constexpr (rgb || (scalar && !std::is_floating_point_v<PixelType>))
  {
    // Read wide, check, then narrowed here: ITK would cast 16-bit colour modulo 256, and NaN to anything.
    if (source.floatingPoint || (rgb && source.bitsPerComponent > 8))
    {
      using WidePixel = std::conditional_t<rgb, itk::RGBPixel<float>, float>;
      using WideImage = itk::Image<WidePixel, TImage::ImageDimension>;
      const auto  wide = ReadImageSource<WideImage>(source);
      const float scale =
        rgb && !source.floatingPoint ? 255.0F / static_cast<float>((1ULL << source.bitsPerComponent) - 1) : 1.0F;
      auto narrow = [scale](float v)
      {
        if constexpr (rgb)
        {
          return static_cast<unsigned char>(std::lround(std::clamp(v * scale, 0.0F, 255.0F)));
        }
        else
        {
          return static_cast<PixelType>(std::clamp<double>(
            std::round(v), std::numeric_limits<PixelType>::lowest(), std::numeric_limits<PixelType>::max()));
        }
      };
      return MapPixels<TImage>(wide.GetPointer(),
                               [&narrow](const WidePixel & v)
                               {
                                 if constexpr (rgb)
                                 {
                                   PixelType p;
                                   for (unsigned int c = 0; c < 3; ++c)
                                   {
                                     p[c] = narrow(v[c]);
                                   }
                                   return p;
                                 }
                                 else
                                 {
                                   return narrow(v);
                                 }
                               });
    }
  }
  auto image = detail::ReadPixels<TImage>(source);
  if (source.floatingPoint)
  {
    detail::CheckFinite(image.GetPointer(), source.path);
  }
  return image;
}

/** Writes an image by extension, atomically: on failure nothing is left under fileName. */
template <typename TImage>
void
WriteImageAtomically(const TImage * image, const std::string & fileName)
{
  RegisterImageIOFactories();
  WriteAtomically(fileName,
                  [&](const std::string & temporary)
                  {
                    try
                    {
                      auto writer = itk::ImageFileWriter<TImage>::New();
                      writer->SetInput(image);
                      writer->SetFileName(temporary);
                      writer->UseCompressionOn();
                      writer->Update();
                    }
                    catch (const itk::ExceptionObject & e)
                    {
                      throw Error(fileName + ": cannot write image: " + e.GetDescription());
                    }
                  });
}

/** A 2D image as a volume one slice thick in its plane: origin, spacing and direction extended by the identity (the
 * slice at z = 0, 1 apart). The pixels are copied. For the writers and outputs that need 3 spatial dimensions. */
template <typename TPixel>
typename itk::Image<TPixel, 3>::Pointer
OneSliceVolume(const itk::Image<TPixel, 2> * image)
{
  using VolumeType = itk::Image<TPixel, 3>;
  auto       volume = VolumeType::New();
  const auto size = image->GetLargestPossibleRegion().GetSize();
  auto       spacing = volume->GetSpacing();
  auto       origin = volume->GetOrigin();
  auto       direction = volume->GetDirection();
  for (unsigned int r = 0; r < 2; ++r)
  {
    spacing[r] = image->GetSpacing()[r];
    origin[r] = image->GetOrigin()[r];
    for (unsigned int c = 0; c < 2; ++c)
    {
      direction(r, c) = image->GetDirection()(r, c);
    }
  }
  volume->SetRegions(itk::Size<3>{ { size[0], size[1], 1 } });
  volume->SetSpacing(spacing);
  volume->SetOrigin(origin);
  volume->SetDirection(direction);
  volume->Allocate();
  std::copy_n(
    image->GetBufferPointer(), image->GetLargestPossibleRegion().GetNumberOfPixels(), volume->GetBufferPointer());
  return volume;
}

} // namespace focusnet

#endif
