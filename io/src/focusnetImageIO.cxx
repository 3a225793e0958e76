/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetImageIO.h"

#include "focusnetDicom.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetImageFileChecks.h"

#include "gdcmTrace.h"
#include "itkGDCMImageIO.h"
#include "itkGDCMImageIOFactory.h"
#include "itkImageIOFactory.h"
#include "itkJPEGImageIOFactory.h"
#include "itkMetaImageIOFactory.h"
#include "itkNiftiImageIOFactory.h"
#include "itkNrrdImageIOFactory.h"
#include "itkPNGImageIOFactory.h"
#include "itkTIFFImageIOFactory.h"

#include <algorithm>
#include <array>
#include <cstdarg>
#include <filesystem>
#include <mutex>
#include <sstream>

// ITK's own libtiff, whose headers Debian does not install: its message handlers (libtiff's TIFFErrorHandler).
extern "C"
{
  using ItkTiffHandler = void (*)(const char *, const char *, va_list);
  ItkTiffHandler itk_TIFFSetWarningHandler(ItkTiffHandler);
  ItkTiffHandler itk_TIFFSetErrorHandler(ItkTiffHandler);
}

namespace focusnet
{
namespace fs = std::filesystem;

void
RegisterImageIOFactories()
{
  static std::once_flag once;
  std::call_once(once,
                 []
                 {
                   // GDCM prints warnings (private tags, missing spacing) straight to stderr; our errors are reported
                   // as such.
                   // So do GDCM's errors and libtiff's warnings and errors: the reader's exception says what failed,
                   // and FocusNet reports it in one line naming the file.
                   gdcm::Trace::WarningOff();
                   gdcm::Trace::DebugOff();
                   gdcm::Trace::ErrorOff();
                   itk_TIFFSetWarningHandler(nullptr);
                   itk_TIFFSetErrorHandler(nullptr);
                   itk::GDCMImageIOFactory::RegisterOneFactory();
                   itk::NrrdImageIOFactory::RegisterOneFactory();
                   itk::NiftiImageIOFactory::RegisterOneFactory();
                   itk::MetaImageIOFactory::RegisterOneFactory();
                   itk::TIFFImageIOFactory::RegisterOneFactory();
                   itk::PNGImageIOFactory::RegisterOneFactory();
                   itk::JPEGImageIOFactory::RegisterOneFactory();
                 });
}

namespace
{
std::string
Describe(const std::vector<DicomSeriesInfo> & series)
{
  std::ostringstream text;
  for (const DicomSeriesInfo & s : series)
  {
    text << "\n  " << (s.seriesUid.empty() ? std::string("(no SeriesInstanceUID)") : s.seriesUid) << "  "
         << s.instances.size() << " files" << (s.description.empty() ? "" : "  \"" + s.description + "\"");
  }
  return text.str();
}

/** Reads only the header of one file; throws focusnet::Error naming the file. */
itk::ImageIOBase::Pointer
ReadHeader(const std::string & fileName, itk::ImageIOBase::Pointer io)
{
  try
  {
    io->SetFileName(fileName);
    io->ReadImageInformation();
  }
  catch (const itk::ExceptionObject & e)
  {
    throw Error(fileName + ": cannot read image, the file may be damaged: " + e.GetDescription());
  }
  return io;
}
} // namespace

ImageSource
InspectImageSource(const std::string & path, const std::string & seriesUid)
{
  RegisterImageIOFactories();
  std::error_code error;
  if (!fs::exists(path, error))
  {
    throw Error(path + ": no such file or directory");
  }

  if (!fs::is_directory(path, error))
  {
    return InspectImageFiles(path, { path });
  }
  const DicomScan scan = ScanDicomTree(path);
  const auto &    series = scan.series;
  if (series.empty())
  {
    throw Error(path + ": the folder holds no DICOM series" +
                (scan.unreadable.empty() ? std::string()
                                         : " (" + std::to_string(scan.unreadable.size()) +
                                             " damaged DICOM files, the first: " + scan.unreadable.front().path + ": " +
                                             scan.unreadable.front().reason + ")"));
  }
  const DicomSeriesInfo * chosen = &series.front();
  if (!seriesUid.empty())
  {
    auto match =
      std::find_if(series.begin(), series.end(), [&](const DicomSeriesInfo & s) { return s.seriesUid == seriesUid; });
    if (match == series.end())
    {
      throw Error(path + ": no DICOM series with SeriesInstanceUID " + seriesUid +
                  "; the folder holds:" + Describe(series));
    }
    chosen = &*match;
  }
  else if (series.size() > 1)
  {
    throw Error(path + ": the folder holds " + std::to_string(series.size()) +
                  " DICOM series; choose one by its SeriesInstanceUID:" + Describe(series),
                Error::Remedy::ChooseSeries);
  }
  ImageSource source = ToImageSource(*chosen);
  source.path = path;
  return source;
}

ImageSource
InspectImageFiles(const std::string & path, const std::vector<std::string> & files)
{
  RegisterImageIOFactories();
  if (files.empty())
  {
    throw Error(path + ": no image files");
  }
  ImageSource source;
  source.path = path;
  source.files = files;
  itk::ImageIOBase::Pointer io;
  if (files.size() > 1)
  {
    source.dicom = true;
    io = ReadHeader(files.front(), itk::GDCMImageIO::New().GetPointer());
  }
  else
  {
    io = itk::ImageIOFactory::CreateImageIO(files.front().c_str(), itk::IOFileModeEnum::ReadMode);
    if (!io)
    {
      throw Error(files.front() + ": is not an image FocusNet can read, or is damaged (supported: TIFF, PNG, JPEG, "
                                  "NRRD, NIfTI, MetaImage, DICOM)");
    }
    ReadHeader(files.front(), io);
    source.dicom = dynamic_cast<itk::GDCMImageIO *>(io.GetPointer()) != nullptr;
  }

  source.dimension = io->GetNumberOfDimensions();
  if (source.files.size() > 1)
  {
    source.dimension = 3; // a series of 2D files
  }
  source.components = io->GetNumberOfComponents();
  source.bitsPerComponent = static_cast<unsigned int>(8 * io->GetComponentSize());
  const itk::IOComponentEnum type = io->GetComponentType();
  source.floatingPoint = type == itk::IOComponentEnum::FLOAT || type == itk::IOComponentEnum::DOUBLE;
  source.signedInteger = type == itk::IOComponentEnum::CHAR || type == itk::IOComponentEnum::SHORT ||
                         type == itk::IOComponentEnum::INT || type == itk::IOComponentEnum::LONG ||
                         type == itk::IOComponentEnum::LONGLONG;
  for (unsigned int d = 0; d < source.dimension; ++d)
  {
    source.size.push_back(d < io->GetNumberOfDimensions() ? io->GetDimensions(d) : source.files.size());
  }
  CheckDeclaredSize(files.size() > 1 ? path : files.front(), source.size, source.components);
  if (files.size() == 1)
  {
    CheckPixelDataComplete(files.front(), io->GetImageSizeInBytes());
  }
  if (source.dimension < 2 || source.dimension > 3)
  {
    throw Error(path + ": " + std::to_string(source.dimension) + "D images are not supported (2D or 3D only)");
  }
  if (source.components != 1 && source.components != 3 && source.components != 4)
  {
    throw Error(path + ": images with " + std::to_string(source.components) +
                " components per pixel are not supported (gray, RGB or RGBA)");
  }
  return source;
}

std::string
FormatExtension(const std::string & fileName)
{
  std::string name = fs::path(fileName).filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return FullExtension(name);
}

void
CheckPictureFileName(const std::string & fileName, const std::string & what)
{
  if (FormatExtension(fileName) != ".png")
  {
    throw Error(fileName + ": " + what + " is written as PNG; name it .png");
  }
}

void
CheckOutputImageFileName(const std::string & fileName, unsigned int dimension, bool floatingPoint)
{
  const std::string                        extension = FormatExtension(fileName);
  static const std::array<const char *, 7> supported{ ".nrrd", ".nii", ".nii.gz", ".mha", ".tif", ".tiff", ".png" };
  if (std::find(supported.begin(), supported.end(), extension) == supported.end())
  {
    throw Error(fileName + ": cannot write an image as '" + extension +
                "' (use .nrrd, .nii, .nii.gz, .mha, .tif, .tiff or .png)");
  }
  if (extension == ".png" && (dimension != 2 || floatingPoint))
  {
    throw Error(fileName + ": PNG holds 2D integer images only; use .nrrd, .nii.gz, .mha or .tif");
  }
}

} // namespace focusnet
