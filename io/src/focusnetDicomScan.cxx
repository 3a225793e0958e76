/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetDicom.h"
#include "focusnetDicomInternal.h"
#include "focusnetImageIO.h"

#include "focusnetError.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/oflog/oflog.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace focusnet
{
namespace fs = std::filesystem;

namespace
{
std::string
GetString(DcmItem & item, const DcmTagKey & tag)
{
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad())
  {
    return {};
  }
  std::string text(value.c_str());
  text.erase(text.find_last_not_of(std::string(" \0", 2)) + 1);
  return text;
}

/** Reads n backslash-separated numbers; false when the attribute is absent or short. */
template <std::size_t N>
bool
GetNumbers(DcmItem & item, const DcmTagKey & tag, std::array<double, N> & values)
{
  for (std::size_t i = 0; i < N; ++i)
  {
    Float64 v = 0.0;
    if (item.findAndGetFloat64(tag, v, static_cast<unsigned long>(i)).bad() || !std::isfinite(v))
    {
      return false;
    }
    values[i] = v;
  }
  return true;
}

/** True when the file has the DICOM preamble ("DICM" at byte 128). */
bool
HasDicomPreamble(const fs::path & path)
{
  std::ifstream in(path, std::ios::binary);
  char          magic[4] = {};
  return in.seekg(128) && in.read(magic, 4) && std::string(magic, 4) == "DICM";
}

std::array<double, 3>
Normal(const std::array<double, 6> & o)
{
  return { { o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3] } };
}

double
Dot(const std::array<double, 3> & a, const std::array<double, 3> & b)
{
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** A measurement for messages: 4 significant digits and its unit ("2 mm", "12.53 degrees"). */
std::string
Quantity(double value, const char * unit)
{
  std::ostringstream text;
  text.precision(4);
  text << value << ' ' << unit;
  return text.str();
}

std::string
DamagedFileReason(const DicomInstance & instance)
{
  return "damaged file " + instance.path + ": " + instance.damage;
}

/** Sorts the instances along the slice normal, sets size and spacing, and names the first geometry problem. */
void
Organise(DicomSeriesInfo & series)
{
  auto &                instances = series.instances;
  const DicomInstance & first = instances.front();
  series.studyUid = first.studyUid;
  series.seriesUid = first.seriesUid;
  series.modality = first.modality;
  series.description = first.seriesDescription;
  series.transferSyntaxUid = first.transferSyntaxUid;
  series.size = { first.columns, first.rows, 0 };
  series.spacing = { first.pixelSpacing[1], first.pixelSpacing[0], 1.0 };
  for (const DicomInstance & i : instances)
  {
    series.size[2] += i.frames;
  }

  const auto problem = [&](const std::string & reason)
  {
    if (series.problem.empty())
    {
      series.problem = reason;
    }
  };
  for (const DicomInstance & i : instances)
  {
    if (!i.damage.empty())
    {
      problem(DamagedFileReason(i));
    }
  }
  const bool geometry = std::all_of(
    instances.begin(), instances.end(), [](const DicomInstance & i) { return i.hasPosition && i.hasOrientation; });
  const std::array<double, 3> normal = Normal(first.orientation);
  std::stable_sort(instances.begin(),
                   instances.end(),
                   [&](const DicomInstance & a, const DicomInstance & b)
                   {
                     if (geometry)
                     {
                       return Dot(a.position, normal) < Dot(b.position, normal);
                     }
                     return a.instanceNumber < b.instanceNumber;
                   });
  if (geometry)
  {
    // Two unit vectors at right angles: anything else has no normal to stack the slices along.
    const auto & o = first.orientation;
    const double row = Dot({ o[0], o[1], o[2] }, { o[0], o[1], o[2] });
    const double column = Dot({ o[3], o[4], o[5] }, { o[3], o[4], o[5] });
    if (std::abs(row - 1.0) > 1e-3 || std::abs(column - 1.0) > 1e-3 ||
        std::abs(Dot({ o[0], o[1], o[2] }, { o[3], o[4], o[5] })) > 1e-3)
    {
      problem("ImageOrientationPatient is not two perpendicular unit vectors");
    }
  }
  if (first.hasPixelSpacing && !(first.pixelSpacing[0] > 0.0 && first.pixelSpacing[1] > 0.0))
  {
    problem("PixelSpacing is not positive");
  }
  if (instances.size() == 1)
  {
    return;
  }
  if (!first.hasPixelSpacing)
  {
    problem("no PixelSpacing: the slices' size in mm is unknown");
  }
  for (const DicomInstance & i : instances)
  {
    if (i.frames > 1)
    {
      problem("mixes a multi-frame file with other files");
    }
    if (i.rows != first.rows || i.columns != first.columns)
    {
      problem("mixed image sizes (" + std::to_string(first.columns) + "x" + std::to_string(first.rows) + " and " +
              std::to_string(i.columns) + "x" + std::to_string(i.rows) + ")");
    }
    if (i.samplesPerPixel != first.samplesPerPixel)
    {
      problem("mixed gray and colour images");
    }
    for (std::size_t k = 0; k < 6; ++k)
    {
      if (std::abs(i.orientation[k] - first.orientation[k]) > 1e-4)
      {
        problem("mixed orientations");
      }
    }
    for (std::size_t k = 0; k < 2; ++k)
    {
      if (std::abs(i.pixelSpacing[k] - first.pixelSpacing[k]) > 1e-4 * first.pixelSpacing[k])
      {
        problem("mixed pixel spacings");
      }
    }
    if (std::abs(i.gantryTilt) > 1e-3)
    {
      problem("gantry tilt of " + Quantity(i.gantryTilt, "degrees"));
    }
  }
  if (!geometry)
  {
    problem("no slice positions (ImagePositionPatient/ImageOrientationPatient missing)");
    return;
  }
  if (!series.problem.empty())
  {
    return;
  }

  std::vector<double> gaps;
  for (std::size_t k = 1; k < instances.size(); ++k)
  {
    gaps.push_back(Dot(instances[k].position, normal) - Dot(instances[k - 1].position, normal));
  }
  std::vector<double> sorted = gaps;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double spacing = sorted[sorted.size() / 2];
  if (spacing < 1e-3)
  {
    problem("duplicate slice positions");
    return;
  }
  series.spacing[2] = spacing;
  for (std::size_t k = 0; k < gaps.size(); ++k)
  {
    if (gaps[k] < 1e-3)
    {
      problem("duplicate slice positions at " + instances[k + 1].path);
    }
    else if (gaps[k] > 1.5 * spacing)
    {
      problem("missing slices: a gap of " + Quantity(gaps[k], "mm") + " after " + instances[k].path +
              " where the spacing is " + Quantity(spacing, "mm"));
    }
    else if (std::abs(gaps[k] - spacing) > 0.1 * spacing)
    {
      problem("irregular slice spacing (" + Quantity(gaps[k], "mm") + " and " + Quantity(spacing, "mm") + ")");
    }
  }
  // Slices must stack along their normal; a sheared stack comes from a tilted gantry.
  std::array<double, 3> step;
  for (std::size_t k = 0; k < 3; ++k)
  {
    step[k] = instances.back().position[k] - instances.front().position[k];
  }
  const double length = std::sqrt(Dot(step, step));
  const double along = Dot(step, normal);
  if (length > 0 && along / length < std::cos(0.5 * M_PI / 180.0))
  {
    problem("slices are sheared (gantry tilt of " +
            Quantity(std::acos(std::clamp(along / length, -1.0, 1.0)) * 180.0 / M_PI, "degrees") + ")");
  }
}
} // namespace

void
QuietDcmtk()
{
  // DCMTK logs parser warnings (odd lengths, private tags, stopping at PixelData) to stderr; the problems that
  // matter reach the user as errors naming the file.
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

namespace
{
std::atomic<std::size_t> headersRead{ 0 };
}

std::size_t
DicomHeadersRead()
{
  return headersRead;
}

bool
LoadDicomHeader(const std::string & path, DcmFileFormat & file, std::string & error)
{
  QuietDcmtk();
  ++headersRead;
  // The whole file is parsed, but values longer than DCM_MaxReadLength (the pixel data) are skipped, not read: a file
  // cut short inside its pixel data ends before the declared length and is reported here, not read as if whole.
  const OFCondition status = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
  if (status.bad())
  {
    error = status.text();
    return false;
  }
  return true;
}

void
DescribeInstance(DcmFileFormat & file, const std::string & path, DicomInstance & instance)
{
  DcmDataset & data = *file.getDataset();
  instance.path = path;
  instance.sopClassUid = GetString(data, DCM_SOPClassUID);
  instance.sopInstanceUid = GetString(data, DCM_SOPInstanceUID);
  instance.studyUid = GetString(data, DCM_StudyInstanceUID);
  instance.seriesUid = GetString(data, DCM_SeriesInstanceUID);
  instance.frameOfReferenceUid = GetString(data, DCM_FrameOfReferenceUID);
  instance.modality = GetString(data, DCM_Modality);
  instance.seriesDescription = GetString(data, DCM_SeriesDescription);
  OFString transferSyntax;
  file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, transferSyntax);
  instance.transferSyntaxUid = transferSyntax.c_str();
  if (instance.transferSyntaxUid.empty())
  {
    instance.transferSyntaxUid = DcmXfer(data.getOriginalXfer()).getXferID();
  }
  Uint16 value = 0;
  if (data.findAndGetUint16(DCM_Rows, value).good())
  {
    instance.rows = value;
  }
  if (data.findAndGetUint16(DCM_Columns, value).good())
  {
    instance.columns = value;
  }
  if (data.findAndGetUint16(DCM_SamplesPerPixel, value).good())
  {
    instance.samplesPerPixel = value;
  }
  Sint32 number = 0;
  if (data.findAndGetSint32(DCM_NumberOfFrames, number).good() && number > 0)
  {
    instance.frames = static_cast<std::uint32_t>(number);
  }
  if (data.findAndGetSint32(DCM_InstanceNumber, number).good())
  {
    instance.instanceNumber = number;
  }
  Float64 tilt = 0.0;
  if (data.findAndGetFloat64(DCM_GantryDetectorTilt, tilt).good() && std::isfinite(tilt))
  {
    instance.gantryTilt = tilt;
  }
  instance.hasPixelSpacing = GetNumbers(data, DCM_PixelSpacing, instance.pixelSpacing);
  // Uncompressed pixel data shorter than the image it declares (GDCM would read it and leave the rest blank).
  Uint16       bitsAllocated = 0;
  DcmElement * pixels = nullptr;
  if (!DcmXfer(instance.transferSyntaxUid.c_str()).isEncapsulated() &&
      data.findAndGetUint16(DCM_BitsAllocated, bitsAllocated).good() && bitsAllocated >= 8 &&
      data.findAndGetElement(DCM_PixelData, pixels).good() && pixels != nullptr)
  {
    const std::uint64_t declared = std::uint64_t{ instance.rows } * instance.columns * instance.samplesPerPixel *
                                   (bitsAllocated / 8U) * std::max<std::uint32_t>(instance.frames, 1);
    if (pixels->getLength() < declared && instance.damage.empty())
    {
      instance.damage = "the pixel data holds " + std::to_string(pixels->getLength()) + " of the " +
                        std::to_string(declared) + " bytes the header declares";
    }
  }
  instance.hasPosition = GetNumbers(data, DCM_ImagePositionPatient, instance.position);
  instance.hasOrientation = GetNumbers(data, DCM_ImageOrientationPatient, instance.orientation);
}

DicomScan
ScanDicomTree(const std::string & root, const std::function<void(std::size_t, std::size_t)> & progress)
{
  std::error_code error;
  if (!fs::is_directory(root, error))
  {
    throw Error(root + ": not a folder");
  }
  std::vector<std::string> paths;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error), end;
       !error && it != end;
       it.increment(error))
  {
    if (it->is_regular_file(error))
    {
      paths.push_back(it->path().string());
    }
  }
  if (error)
  {
    throw Error(root + ": cannot list the folder: " + error.message());
  }
  std::sort(paths.begin(), paths.end());

  DicomScan                              scan;
  std::map<std::string, DicomSeriesInfo> series;
  std::map<std::string, std::string>     seenInstances;
  for (std::size_t n = 0; n < paths.size(); ++n)
  {
    const std::string & path = paths[n];
    if (progress)
    {
      progress(n, paths.size());
    }
    DicomInstance instance;
    std::string   reason;
    const bool    preamble = HasDicomPreamble(path);
    DcmFileFormat header;
    const bool    whole = LoadDicomHeader(path, header, reason);
    DescribeInstance(header, path, instance);
    if (!whole)
    {
      // Without the preamble a file that does not parse is simply not DICOM. A file whose header parsed but that ends
      // early (pixel data cut short) belongs to its series, and makes the series fail naming it.
      if (!preamble)
      {
        ++scan.otherFiles;
        continue;
      }
      if (instance.seriesUid.empty() || instance.rows == 0)
      {
        scan.unreadable.push_back({ path, "not a readable DICOM file: " + reason });
        continue;
      }
      instance.damage = reason;
    }
    if (instance.rows == 0 || instance.columns == 0 || instance.sopClassUid == UID_SegmentationStorage)
    {
      ++scan.otherFiles; // not an image (DICOMDIR, structured report, segmentation...), or not DICOM at all
      continue;
    }
    if (!instance.sopInstanceUid.empty())
    {
      // The same instance twice (a copy in another folder) is read once.
      if (!seenInstances.emplace(instance.sopInstanceUid, path).second)
      {
        continue;
      }
    }
    // Anonymised files with blank UIDs are grouped by folder and frame of reference.
    const std::string key = instance.seriesUid.empty()
                              ? "no-uid:" + fs::path(path).parent_path().string() + ":" + instance.frameOfReferenceUid
                              : instance.studyUid + "/" + instance.seriesUid;
    DicomSeriesInfo & s = series[key];
    s.key = key;
    s.instances.push_back(std::move(instance));
  }
  if (progress)
  {
    progress(paths.size(), paths.size());
  }
  for (auto & [key, s] : series)
  {
    Organise(s);
    scan.series.push_back(std::move(s));
  }
  return scan;
}

std::string
DamagedFiles(const DicomSeriesInfo & series)
{
  std::string damaged;
  for (const DicomInstance & instance : series.instances)
  {
    if (!instance.damage.empty())
    {
      damaged += (damaged.empty() ? "" : "; ") + DamagedFileReason(instance);
    }
  }
  return damaged;
}

std::string
SeriesFolder(const DicomSeriesInfo & series)
{
  fs::path common = fs::path(series.instances.front().path).parent_path();
  for (const DicomInstance & instance : series.instances)
  {
    const fs::path folder = fs::path(instance.path).parent_path();
    fs::path       shared;
    for (auto a = common.begin(), b = folder.begin(); a != common.end() && b != folder.end() && *a == *b; ++a, ++b)
    {
      shared /= *a;
    }
    common = shared;
  }
  return common.string();
}

ImageSource
ToImageSource(const DicomSeriesInfo & series)
{
  if (!series.problem.empty())
  {
    throw Error(series.instances.front().path + ": series " + series.seriesUid +
                " cannot be read as one volume: " + series.problem);
  }
  std::vector<std::string> files;
  for (const DicomInstance & i : series.instances)
  {
    files.push_back(i.path);
  }
  ImageSource source = InspectImageFiles(SeriesFolder(series), files);
  source.dicomInstances = series.instances;
  return source;
}

std::string
TransferSyntaxName(const std::string & uid)
{
  const DcmXfer xfer(uid.c_str());
  return xfer.getXfer() == EXS_Unknown ? uid : std::string(xfer.getXferName());
}

} // namespace focusnet
