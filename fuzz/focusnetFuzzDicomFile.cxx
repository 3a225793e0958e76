/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Fuzz target: one file in a folder scanned as a DICOM archive (DCMTK's parser and FocusNet's reading of the header:
// geometry, series, damage). The scan must not throw for a damaged file; a series it finds either has a problem or
// gives an image source.

#include "focusnetDicom.h"
#include "focusnetError.h"
#include "focusnetFuzzTarget.h"
#include "focusnetImageIO.h"

#include <cstdlib>

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t * data, std::size_t size)
{
  focusnet::fuzz::WriteInput(data, size, "image.dcm");
  const focusnet::DicomScan scan = focusnet::ScanDicomTree(focusnet::fuzz::ScratchFolder());
  for (const focusnet::DicomSeriesInfo & series : scan.series)
  {
    try
    {
      const focusnet::ImageSource source = focusnet::ToImageSource(series);
      if (!series.problem.empty() || source.files.size() != 1 || source.size.size() != 3)
      {
        std::abort(); // a series with a problem was let through, or one file became something else
      }
    }
    catch (const focusnet::Error &)
    {
    }
  }
  return 0;
}
