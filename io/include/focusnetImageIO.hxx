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

} // namespace focusnet

#endif
