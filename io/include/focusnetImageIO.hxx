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

#include <algorithm>

namespace focusnet
{

/** Reads what InspectImageSource found into TImage (DICOM series: HU for CT, from rescale slope/intercept). */
template <typename TImage>
typename TImage::Pointer
ReadImageSource(const ImageSource & source)
{
  RegisterImageIOFactories();
  try
  {
    if (source.dicom && source.files.size() > 1)
    {
      auto reader = itk::ImageSeriesReader<TImage>::New();
      reader->SetImageIO(itk::GDCMImageIO::New());
      reader->SetFileNames(source.files);
      reader->Update();
      return reader->GetOutput();
    }
    auto reader = itk::ImageFileReader<TImage>::New();
    reader->SetFileName(source.files.front());
    reader->Update();
    return reader->GetOutput();
  }
  catch (const itk::ExceptionObject & e)
  {
    throw Error(source.path + ": cannot read image, the file may be damaged: " + e.GetDescription());
  }
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
