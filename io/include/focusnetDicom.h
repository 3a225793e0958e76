/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetDicom_h
#define focusnetDicom_h

// DICOM in and out with DCMTK: series discovery in a folder tree, and DICOM Segmentation objects.
// DCMTK stays inside the library's .cxx files; these declarations use standard types only.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace focusnet
{

struct ModelMetadata;
struct ImageSource;

/** The attributes of one DICOM image file that series discovery and DICOM SEG need. */
struct DicomInstance
{
  std::string           path;
  std::string           sopClassUid;
  std::string           sopInstanceUid;
  std::string           studyUid;
  std::string           seriesUid;
  std::string           frameOfReferenceUid;
  std::string           modality;
  std::string           seriesDescription;
  std::string           transferSyntaxUid;
  std::uint16_t         rows{ 0 };
  std::uint16_t         columns{ 0 };
  std::uint32_t         frames{ 1 };
  std::uint16_t         samplesPerPixel{ 1 };
  std::int64_t          instanceNumber{ 0 };
  double                gantryTilt{ 0.0 };
  bool                  hasPosition{ false };         ///< ImagePositionPatient present
  bool                  hasOrientation{ false };      ///< ImageOrientationPatient present
  std::array<double, 2> pixelSpacing{ { 1.0, 1.0 } }; ///< (row spacing, column spacing) in mm
  bool                  hasPixelSpacing{ false };     ///< PixelSpacing present
  std::string           damage; ///< why the file could not be read to its end (a file cut short); empty if whole
  std::array<double, 3> position{ { 0.0, 0.0, 0.0 } };
  std::array<double, 6> orientation{ { 1.0, 0.0, 0.0, 0.0, 1.0, 0.0 } };
};

/** One series found by ScanDicomTree: its instances in slice order and whether their geometry is consistent. */
struct DicomSeriesInfo
{
  std::string                key; ///< unique in a scan: StudyInstanceUID/SeriesInstanceUID, or a folder for blank UIDs
  std::string                studyUid;
  std::string                seriesUid; ///< empty when the files have none (anonymised)
  std::string                modality;
  std::string                description;
  std::string                transferSyntaxUid;
  std::vector<DicomInstance> instances;                    ///< sorted along the slice normal
  std::array<std::size_t, 3> size{ { 0, 0, 0 } };          ///< columns, rows, slices (frames)
  std::array<double, 3>      spacing{ { 1.0, 1.0, 1.0 } }; ///< mm; the slice spacing from positions
  std::string                problem; ///< empty when the series can be read as one volume; else the reason
};

/** A file that looked like DICOM but could not be parsed. */
struct UnreadableFile
{
  std::string path;
  std::string reason;
};

struct DicomScan
{
  std::vector<DicomSeriesInfo> series; ///< ordered by key
  std::vector<UnreadableFile>  unreadable;
  std::size_t                  otherFiles{ 0 }; ///< files that are not DICOM images (skipped)
};

/** Finds every DICOM image series below root (recursively; a series may span sub-folders), reading headers only.
 * Files that are not DICOM, DICOM objects without pixels and DICOM Segmentations are counted and skipped;
 * damaged DICOM files are listed. progress is called with (files examined, files in all). Throws
 * focusnet::Error when root is not a readable folder. */
DicomScan
ScanDicomTree(const std::string & root, const std::function<void(std::size_t, std::size_t)> & progress = {});

/** The series' damaged files (cut short: their header read, their pixel data not), one "damaged file PATH: why" each,
 * joined by "; "; empty when every file is whole. Such a series is a failure naming the files, not a geometry problem. */
std::string
DamagedFiles(const DicomSeriesInfo & series);

/** The deepest folder holding all of the series' files. */
std::string
SeriesFolder(const DicomSeriesInfo & series);

/** An ImageSource that reads the series' files in slice order (see ReadImageSource). Throws focusnet::Error
 * when the series has a geometry problem. */
ImageSource
ToImageSource(const DicomSeriesInfo & series);

/** A short name for a transfer syntax UID ("JPEG 2000 (Lossless Only)"), or the UID when unknown. */
std::string
TransferSyntaxName(const std::string & uid);

/** Why a DICOM Segmentation cannot reference the images of source: the source is not DICOM, or names the first file
 * that cannot be referenced (blank SOP Instance, Series or Study UIDs, no patient geometry, multi-frame sources);
 * empty when it can. Uses the headers the series scan read (source.dicomInstances); reads them only for a source
 * that was not scanned. Throws focusnet::Error naming a file that cannot be read. */
std::string
DicomSegmentationRefusal(const ImageSource & source);

/** How many DICOM file headers this process has parsed: each source file of a segmented series is read twice, once
 * by the scan and once by the DICOM SEG writer (whose references need the whole header). */
std::size_t
DicomHeadersRead();

struct DicomSegmentationOptions
{
  bool        skipEmptyFrames{ true }; ///< leave out frames without label pixels (at least one frame is kept)
  std::string seriesDescription{ "FocusNet segmentation" };
  std::string modelName; ///< recorded in the segment description (e.g. the model file name)
  /** The quality flags' names ("fragmented uncertain", FlagNames), recorded in the content description so that a
   * viewer shows them beside the series; empty: none raised. */
  std::string qualityFlags;
};

/** A binary label volume: columns x rows x frames bytes, x fastest; non-zero is inside. */
struct LabelVolume
{
  const std::uint8_t * data{ nullptr };
  std::size_t          columns{ 0 };
  std::size_t          rows{ 0 };
  std::size_t          frames{ 0 };
};

/** Writes a binary DICOM Segmentation (DCMTK dcmseg) of labels, whose frame k lies on sourceFiles[k]: patient,
 * study and frame of reference from the source, per-frame plane position and derivation references, the
 * Referenced Series Sequence, and the segment's label, colour and codes from the model. Atomic: on failure
 * nothing is left under fileName. Throws focusnet::Error naming the file and the problem. */
void
WriteDicomSegmentation(const LabelVolume &              labels,
                       const std::vector<std::string> & sourceFiles,
                       const ModelMetadata &            metadata,
                       const std::string &              fileName,
                       const DicomSegmentationOptions & options = {});

/** A DICOM Segmentation read back: frame by frame, as stored. */
struct DicomSegmentationFrame
{
  std::uint16_t             segmentNumber{ 0 };
  std::array<double, 3>     position{ { 0.0, 0.0, 0.0 } };
  std::string               sourceSopInstanceUid; ///< the instance the frame derives from
  std::vector<std::uint8_t> pixels;               ///< rows x columns, 0 or 1
};

struct DicomSegmentationContents
{
  std::size_t                         rows{ 0 };
  std::size_t                         columns{ 0 };
  std::string                         frameOfReferenceUid;
  std::string                         segmentLabel;
  std::string                         algorithmType;
  std::string                         algorithmName;
  std::vector<std::string>            referencedSeriesUids;
  std::vector<DicomSegmentationFrame> frames;
};

/** Reads a DICOM Segmentation with DCMTK. Throws focusnet::Error naming the file. */
DicomSegmentationContents
ReadDicomSegmentation(const std::string & fileName);

} // namespace focusnet

#endif
