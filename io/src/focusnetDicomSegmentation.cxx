/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetDicom.h"
#include "focusnetDicomInternal.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetImageIO.h"
#include "focusnetModelMetadata.h"
#include "focusnetVersion.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmfg/fgpixmsr.h"
#include "dcmtk/dcmfg/fgplanor.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmfg/fgseg.h"
#include "dcmtk/dcmiod/iodreferences.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"
#include "dcmtk/dcmseg/segutils.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <memory>
#include <sstream>

namespace focusnet
{
namespace
{
namespace fs = std::filesystem;

// An 8-bit sRGB colour as DICOM stores a Recommended Display CIELab Value: CIELab relative to the D50 illuminant, the
// ICC Profile Connection Space (PS3.3 C.10.7.1.1), each scaled to 0-65535. sRGB's own white is D65, so the linear
// colour is adapted to D50 with the Bradford transform, as current DCMTK, highdicom and dcmjs do. (Debian's DCMTK 3.6.7
// takes D65 as CIELab's white, which dcmjs and current DCMTK then read some units off: 124, 175, 127 for 128, 174,
// 128.) The matrices and white points are those of CSS Color Module Level 4 (from the sRGB primaries, IEC 61966-2-1).
std::array<Uint16, 3>
DicomCIELab(const std::array<std::uint8_t, 3> & rgb)
{
  std::array<double, 3> linear{};
  for (int c = 0; c < 3; ++c)
  {
    const double v = rgb[c] / 255.0;
    linear[c] = v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
  }
  using Matrix = std::array<std::array<double, 3>, 3>;
  const Matrix srgbToXyzD65{ { { 0.41239079926595934, 0.357584339383878, 0.1804807884018343 },
                               { 0.21263900587151027, 0.715168678767756, 0.07219231536073371 },
                               { 0.01933081871559182, 0.11919477979462598, 0.9505321522496607 } } };
  const Matrix bradfordD65ToD50{ { { 1.0479297925449969, 0.022946870601609652, -0.05019226628920524 },
                                   { 0.02962780877005599, 0.9904344267538799, -0.017073799063418826 },
                                   { -0.009243040646204504, 0.015055191490298152, 0.7518742814281371 } } };
  const auto times = [](const Matrix & m, const std::array<double, 3> & v)
  {
    std::array<double, 3> r{};
    for (int i = 0; i < 3; ++i)
    {
      r[i] = m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2];
    }
    return r;
  };
  const std::array<double, 3> xyz = times(bradfordD65ToD50, times(srgbToXyzD65, linear));
  const std::array<double, 3> whiteD50{ 0.3457 / 0.3585, 1.0, (1.0 - 0.3457 - 0.3585) / 0.3585 };
  std::array<double, 3>       f{};
  for (int c = 0; c < 3; ++c)
  {
    const double t = xyz[c] / whiteD50[c];
    const double delta = 6.0 / 29.0;
    f[c] = t > delta * delta * delta ? std::cbrt(t) : t / (3 * delta * delta) + 4.0 / 29.0;
  }
  const double L = 116 * f[1] - 16, a = 500 * (f[0] - f[1]), b = 200 * (f[1] - f[2]);
  const auto   scaled = [](double value, double low, double range)
  { return static_cast<Uint16>(std::lround(std::clamp((value - low) / range, 0.0, 1.0) * 65535)); };
  return { scaled(L, 0, 100), scaled(a, -128, 255), scaled(b, -128, 255) };
}

std::string
Text(DcmItem & item, const DcmTagKey & tag)
{
  OFString value;
  item.findAndGetOFStringArray(tag, value);
  return value.c_str();
}

/** Throws focusnet::Error with DCMTK's reason when status is bad. */
void
Check(const OFCondition & status, const std::string & fileName, const std::string & what)
{
  if (status.bad())
  {
    throw Error(fileName + ": cannot " + what + ": " + status.text());
  }
}

std::string
Number(double value)
{
  std::ostringstream text;
  text.precision(10);
  text << value;
  return text.str();
}

CodeSequenceMacro
Code(const CodedConcept & concept)
{
  return CodeSequenceMacro(concept.value.c_str(), concept.scheme.c_str(), concept.meaning.c_str());
}
} // namespace

std::string
SegmentationRefusal(const DicomInstance & instance)
{
  std::string blank;
  std::size_t count = 0;
  for (const auto & [name, value] :
       { std::pair<const char *, const std::string &>{ "SOPInstanceUID", instance.sopInstanceUid },
         { "SOPClassUID", instance.sopClassUid },
         { "SeriesInstanceUID", instance.seriesUid },
         { "StudyInstanceUID", instance.studyUid } })
  {
    if (value.empty())
    {
      blank += (blank.empty() ? "" : ", ") + std::string(name);
      ++count;
    }
  }
  if (count > 0)
  {
    return "a DICOM Segmentation must reference its source images by UID, but " + blank + (count > 1 ? " are" : " is") +
           " empty (anonymised source)";
  }
  if (instance.frames > 1)
  {
    return "DICOM Segmentations of multi-frame sources are not supported";
  }
  if (instance.frameOfReferenceUid.empty() || !instance.hasPosition || !instance.hasOrientation)
  {
    return "the source has no patient geometry (FrameOfReferenceUID, ImagePositionPatient, ImageOrientationPatient)";
  }
  return {};
}

namespace
{
/** Loads the header of a source image into header and describes it; throws focusnet::Error naming the file when it
 * cannot be read. */
DicomInstance
ReadSourceHeader(const std::string & file, DcmFileFormat & header)
{
  std::string error;
  if (!LoadDicomHeader(file, header, error))
  {
    throw Error(file + ": not a readable DICOM file: " + error);
  }
  DicomInstance instance;
  DescribeInstance(header, file, instance);
  return instance;
}
} // namespace

std::string
DicomSegmentationRefusal(const ImageSource & source)
{
  if (!source.dicom || source.files.empty())
  {
    return source.path + " is not DICOM";
  }
  std::vector<DicomInstance> read; // the headers of a source the scan did not read
  if (source.dicomInstances.size() != source.files.size())
  {
    for (const std::string & file : source.files)
    {
      DcmFileFormat header;
      read.push_back(ReadSourceHeader(file, header));
    }
  }
  for (const DicomInstance & instance : read.empty() ? source.dicomInstances : read)
  {
    if (const std::string refusal = SegmentationRefusal(instance); !refusal.empty())
    {
      return instance.path + ": " + refusal;
    }
  }
  return {};
}

void
WriteDicomSegmentation(const LabelVolume &              labels,
                       const std::vector<std::string> & sourceFiles,
                       const ModelMetadata &            metadata,
                       const std::string &              fileName,
                       const DicomSegmentationOptions & options)
{
  if (labels.frames != sourceFiles.size())
  {
    throw Error(fileName + ": the label map has " + std::to_string(labels.frames) + " slices but the source has " +
                std::to_string(sourceFiles.size()) + " images");
  }
  if (sourceFiles.empty())
  {
    throw Error(fileName + ": a DICOM Segmentation needs DICOM source images");
  }
  // Each source header is read once here, whole: the frames' source references copy from the dataset itself. (The
  // series scan read it once before, for the checks made before any work.)
  std::vector<std::unique_ptr<DcmFileFormat>> sources;
  std::vector<DicomInstance>                  instances(sourceFiles.size());
  for (std::size_t k = 0; k < sourceFiles.size(); ++k)
  {
    const std::string & file = sourceFiles[k];
    auto                source = std::make_unique<DcmFileFormat>();
    try
    {
      instances[k] = ReadSourceHeader(file, *source);
      if (const std::string refusal = SegmentationRefusal(instances[k]); !refusal.empty())
      {
        throw Error(file + ": " + refusal);
      }
    }
    catch (const Error & e)
    {
      throw Error(fileName + ": cannot write a DICOM Segmentation: " + e.what());
    }
    if (instances[k].rows != labels.rows || instances[k].columns != labels.columns)
    {
      throw Error(fileName + ": the label map's slices are " + std::to_string(labels.columns) + "x" +
                  std::to_string(labels.rows) + " but " + file + " is " + std::to_string(instances[k].columns) + "x" +
                  std::to_string(instances[k].rows));
    }
    sources.push_back(std::move(source));
  }
  DcmDataset & first = *sources.front()->getDataset();

  const IODGeneralEquipmentModule::EquipmentInfo equipment("FocusNet", "FocusNet", "1", Version);
  // Content Description is a LO of 64 characters: the flags first when both do not fit, and as many whole names as
  // fit (all five are 68 characters).
  std::string contentDescription = "FocusNet " + metadata.label.name;
  if (!options.qualityFlags.empty())
  {
    contentDescription += "; flagged: " + options.qualityFlags;
    if (contentDescription.size() > 64)
    {
      contentDescription = "flagged: " + options.qualityFlags;
      while (contentDescription.size() > 64)
      {
        contentDescription.erase(contentDescription.rfind(' '));
      }
    }
  }
  const ContentIdentificationMacro content("1", "FOCUSNET", contentDescription.c_str(), "");
  DcmSegmentation *                created = nullptr;
  Check(DcmSegmentation::createBinarySegmentation(
          created, static_cast<Uint16>(labels.rows), static_cast<Uint16>(labels.columns), equipment, content),
        fileName,
        "create a DICOM Segmentation");
  std::unique_ptr<DcmSegmentation> segmentation(created);
  Check(segmentation->importFromSourceImage(first),
        fileName,
        "take patient, study and frame of reference from " + sourceFiles.front());
  segmentation->getSeries().setSeriesDescription(options.seriesDescription.c_str());
  segmentation->getSeries().setSeriesNumber("9001");
  const std::string lossy = Text(first, DCM_LossyImageCompression);
  if (lossy == "01")
  {
    segmentation->setLossyImageCompressionFlag(Text(first, DCM_LossyImageCompressionRatio).c_str(),
                                               Text(first, DCM_LossyImageCompressionMethod).c_str(),
                                               OFFalse);
  }

  // The one segment: the model's label, codes and colour, made by this algorithm.
  const SegmentLabel & label = metadata.label;
  DcmSegment *         segmentCreated = nullptr;
  Check(DcmSegment::create(segmentCreated,
                           label.name.c_str(),
                           Code(label.category),
                           Code(label.type),
                           DcmSegTypes::SAT_AUTOMATIC,
                           (std::string("FocusNet ") + Version).c_str()),
        fileName,
        "describe the segment");
  std::unique_ptr<DcmSegment> segment(segmentCreated);
  const std::array<Uint16, 3> lab = DicomCIELab(label.color);
  segment->setRecommendedDisplayCIELabValue(lab[0], lab[1], lab[2]);
  const std::string description = "FocusNet " + metadata.architecture.name +
                                  (options.modelName.empty() ? std::string() : " model " + options.modelName);
  segment->setSegmentDescription(description.substr(0, 64).c_str(), OFFalse);
  Uint16 segmentNumber = 0;
  Check(segmentation->addSegment(segment.get(), segmentNumber), fileName, "add the segment");
  segment.release(); // owned by the segmentation now

  // Shared geometry: pixel measures and orientation from the source.
  FGPixelMeasures measures;
  measures.setPixelSpacing(Text(first, DCM_PixelSpacing).c_str());
  const std::string thickness = Text(first, DCM_SliceThickness);
  measures.setSliceThickness(thickness.empty() ? "1" : thickness.c_str());
  if (instances.size() > 1)
  {
    double distance = 0;
    for (std::size_t k = 0; k < 3; ++k)
    {
      const double step = instances[1].position[k] - instances[0].position[k];
      distance += step * step;
    }
    measures.setSpacingBetweenSlices(Number(std::sqrt(distance)).c_str());
  }
  Check(segmentation->addForAllFrames(measures), fileName, "add the pixel measures");
  OFString orientation[6];
  for (unsigned long k = 0; k < 6; ++k)
  {
    first.findAndGetOFString(DCM_ImageOrientationPatient, orientation[k], k);
  }
  std::unique_ptr<FGPlaneOrientationPatient> plane(FGPlaneOrientationPatient::createMinimal(
    orientation[0], orientation[1], orientation[2], orientation[3], orientation[4], orientation[5]));
  Check(segmentation->addForAllFrames(*plane), fileName, "add the plane orientation");

  // Frames are indexed by segment and position, as readers (Slicer's dcmqi, highdicom) expect.
  char organisation[100];
  dcmGenerateUniqueIdentifier(organisation, SITE_INSTANCE_UID_ROOT);
  IODMultiframeDimensionModule & dimensions = segmentation->getDimensions();
  Check(dimensions.addDimensionIndex(
          DCM_ReferencedSegmentNumber, organisation, DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
        fileName,
        "add the segment dimension");
  Check(dimensions.addDimensionIndex(
          DCM_ImagePositionPatient, organisation, DCM_PlanePositionSequence, "ImagePositionPatient"),
        fileName,
        "add the position dimension");

  const CodeSequenceMacro   derivation("113076", "DCM", "Segmentation");
  const CodeSequenceMacro   purpose("121322", "DCM", "Source image for image processing operation");
  const std::size_t         framePixels = labels.rows * labels.columns;
  std::vector<std::uint8_t> pixels(framePixels);
  IODReferences             references;
  std::size_t               written = 0;
  for (std::size_t k = 0; k < labels.frames; ++k)
  {
    DcmDataset &         source = *sources[k]->getDataset();
    const std::uint8_t * frame = labels.data + k * framePixels;
    references.add(new IODImageReference(Text(source, DCM_PatientID).c_str(),
                                         Text(source, DCM_StudyInstanceUID).c_str(),
                                         Text(source, DCM_SeriesInstanceUID).c_str(),
                                         Text(source, DCM_SOPInstanceUID).c_str(),
                                         Text(source, DCM_SOPClassUID).c_str()));
    const bool empty = std::none_of(frame, frame + framePixels, [](std::uint8_t v) { return v != 0; });
    const bool last = k + 1 == labels.frames;
    if (empty && options.skipEmptyFrames && !(last && written == 0))
    {
      continue;
    }
    std::transform(frame, frame + framePixels, pixels.begin(), [](std::uint8_t v) { return v != 0 ? 1 : 0; });

    OFString position[3];
    for (unsigned long i = 0; i < 3; ++i)
    {
      source.findAndGetOFString(DCM_ImagePositionPatient, position[i], i);
    }
    std::unique_ptr<FGPlanePosPatient> planePosition(
      FGPlanePosPatient::createMinimal(position[0], position[1], position[2]));
    FGFrameContent frameContent;
    frameContent.setDimensionIndexValues(segmentNumber, 0);
    frameContent.setDimensionIndexValues(static_cast<Uint32>(k + 1), 1);
    FGDerivationImage     derived;
    DerivationImageItem * derivationItem = nullptr;
    Check(derived.addDerivationImageItem(derivation, "", derivationItem), fileName, "add the derivation");
    SourceImageItem * sourceItem = nullptr;
    Check(derivationItem->addSourceImageItem(&source, purpose, sourceItem), fileName, "reference " + sourceFiles[k]);
    OFVector<FGBase *> perFrame;
    perFrame.push_back(planePosition.get());
    perFrame.push_back(&frameContent);
    perFrame.push_back(&derived);
    Check(segmentation->addFrame(pixels.data(), segmentNumber, perFrame), fileName, "add frame " + std::to_string(k));
    ++written;
  }
  segmentation->getCommonInstanceReference().addReferences(references, Text(first, DCM_StudyInstanceUID).c_str());

  WriteAtomically(fileName,
                  [&](const std::string & temporary)
                  { Check(segmentation->saveFile(temporary.c_str()), fileName, "write the DICOM Segmentation"); });
}

DicomSegmentationContents
ReadDicomSegmentation(const std::string & fileName)
{
  QuietDcmtk();
  DcmSegmentation * loaded = nullptr;
  Check(DcmSegmentation::loadFile(fileName.c_str(), loaded), fileName, "read the DICOM Segmentation");
  std::unique_ptr<DcmSegmentation> segmentation(loaded);
  DcmFileFormat                    file;
  Check(file.loadFile(fileName.c_str()), fileName, "read the file");
  DcmDataset & data = *file.getDataset();

  DicomSegmentationContents contents;
  Uint16                    rows = 0, columns = 0;
  data.findAndGetUint16(DCM_Rows, rows);
  data.findAndGetUint16(DCM_Columns, columns);
  contents.rows = rows;
  contents.columns = columns;
  contents.frameOfReferenceUid = Text(data, DCM_FrameOfReferenceUID);
  if (DcmSegment * segment = segmentation->getSegment(1))
  {
    OFString value;
    segment->getSegmentLabel(value);
    contents.segmentLabel = value.c_str();
    segment->getSegmentAlgorithmName(value);
    contents.algorithmName = value.c_str();
    contents.algorithmType = DcmSegTypes::algoType2OFString(segment->getSegmentAlgorithmType()).c_str();
  }
  DcmItem * series = nullptr;
  for (unsigned long i = 0;
       data.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, static_cast<int>(i)).good();
       ++i)
  {
    contents.referencedSeriesUids.push_back(Text(*series, DCM_SeriesInstanceUID));
  }

  FGInterface & groups = segmentation->getFunctionalGroups();
  for (std::size_t k = 0; k < segmentation->getNumberOfFrames(); ++k)
  {
    DicomSegmentationFrame frame;
    const auto             number = static_cast<Uint32>(k);
    if (auto * position = dynamic_cast<FGPlanePosPatient *>(groups.get(number, DcmFGTypes::EFG_PLANEPOSPATIENT)))
    {
      position->getImagePositionPatient(frame.position[0], frame.position[1], frame.position[2]);
    }
    if (auto * identification = dynamic_cast<FGSegmentation *>(groups.get(number, DcmFGTypes::EFG_SEGMENTATION)))
    {
      identification->getReferencedSegmentNumber(frame.segmentNumber);
    }
    if (auto * derived = dynamic_cast<FGDerivationImage *>(groups.get(number, DcmFGTypes::EFG_DERIVATIONIMAGE)))
    {
      for (DerivationImageItem * item : derived->getDerivationImageItems())
      {
        for (SourceImageItem * source : item->getSourceImageItems())
        {
          OFString uid;
          source->getImageSOPInstanceReference().getReferencedSOPInstanceUID(uid);
          frame.sourceSopInstanceUid = uid.c_str();
        }
      }
    }
    const DcmIODTypes::Frame * packed = segmentation->getFrame(k);
    if (!packed)
    {
      throw Error(fileName + ": frame " + std::to_string(k + 1) + " has no pixel data");
    }
    std::unique_ptr<DcmIODTypes::Frame> unpacked(DcmSegUtils::unpackBinaryFrame(packed, rows, columns));
    if (!unpacked)
    {
      throw Error(fileName + ": frame " + std::to_string(k + 1) + " cannot be unpacked");
    }
    frame.pixels.assign(unpacked->pixData, unpacked->pixData + static_cast<std::size_t>(rows) * columns);
    contents.frames.push_back(std::move(frame));
  }
  return contents;
}

} // namespace focusnet
