/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetImageIO_h
#define focusnetImageIO_h

#include "focusnetDicom.h"

#include <cstddef>
#include <string>
#include <vector>

namespace focusnet
{

/** Registers the ImageIO factories FocusNet reads and writes with (TIFF, PNG, JPEG, NRRD, NIfTI, MetaImage,
 * GDCM), so that a library user needs no ITK_USE_FILE factory registration. Safe to call repeatedly. */
void
RegisterImageIOFactories();

/** What an input is, before reading it: where its pixels come from and their shape. */
struct ImageSource
{
  std::string              path;  ///< the file or folder as given
  std::vector<std::string> files; ///< one file, or a DICOM series in slice order
  unsigned int             dimension{ 0 };
  unsigned int             components{ 0 };
  std::vector<std::size_t> size;                   ///< pixels along each dimension
  unsigned int             bitsPerComponent{ 0 };  ///< as stored in the file: 8 for 8-bit RGB, 16 for 16-bit
  bool                     floatingPoint{ false }; ///< whether the file stores floating-point values
  bool                     signedInteger{ false }; ///< whether the file stores signed integers (CT in HU: int16)
  bool                     dicom{ false };
  /** A scanned DICOM series: the headers the scan read, in the order of files (empty for other sources). */
  std::vector<DicomInstance> dicomInstances;
};

/** Examines a file or a DICOM series folder (searched recursively, see ScanDicomTree). seriesUid picks a series
 * when a folder holds several; when the choice is ambiguous the error lists them. A series with inconsistent
 * geometry is refused with the reason, as is a header that declares more than $FOCUSNET_MAX_VOXELS values (default
 * 2^30) or more pixel data than the file holds. Throws focusnet::Error naming the path and the problem. */
ImageSource
InspectImageSource(const std::string & path, const std::string & seriesUid = {});

/** Examines the given files as one image: a single image file, or the files of a DICOM series in slice order.
 * path names the image in messages. Throws focusnet::Error. */
ImageSource
InspectImageFiles(const std::string & path, const std::vector<std::string> & files);

/** The extension that picks a file's format: the full extension in lower case ("A.NII.GZ" -> ".nii.gz"). */
std::string
FormatExtension(const std::string & fileName);

/** The extensions FocusNet writes images as: .nrrd .nii .nii.gz .mha .tif .tiff, and .png for 2D label maps.
 * Throws focusnet::Error for another extension, and for .png with a 3D or floating-point image. */
void
CheckOutputImageFileName(const std::string & fileName, unsigned int dimension, bool floatingPoint);

/** Throws focusnet::Error naming the file unless it is named .png: pictures (overlays, snapshots) are PNG. what names
 * the picture in the message, e.g. "the overlay picture". */
void
CheckPictureFileName(const std::string & fileName, const std::string & what);

} // namespace focusnet

#endif
