/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetDicomInternal_h
#define focusnetDicomInternal_h

#include "focusnetDicom.h"

namespace focusnet
{
/** Turns DCMTK's own logging down to fatal errors (once per process). */
void
QuietDcmtk();

/** Reads the header of one DICOM file (not its pixels) into instance; on failure false and DCMTK's reason. */
bool
ReadDicomInstance(const std::string & path, DicomInstance & instance, std::string & error);
} // namespace focusnet

#endif
