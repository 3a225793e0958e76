/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetDicomInternal_h
#define focusnetDicomInternal_h

#include "focusnetDicom.h"

class DcmFileFormat;

namespace focusnet
{
/** Turns DCMTK's own logging down to fatal errors (once per process). */
void
QuietDcmtk();

/** Loads the header of one DICOM file (everything before its pixels); on failure false and DCMTK's reason. */
bool
LoadDicomHeader(const std::string & path, DcmFileFormat & file, std::string & error);

/** The attributes of a loaded header that FocusNet uses. */
void
DescribeInstance(DcmFileFormat & file, const std::string & path, DicomInstance & instance);

/** Why a DICOM Segmentation cannot reference this source instance, or empty when it can. */
std::string
SegmentationRefusal(const DicomInstance & instance);
} // namespace focusnet

#endif
