/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// DICOM in and out on the real samples: series discovery, DICOM SEG (dciodvfy, round trip) and batch runs.

#include "focusnetBatch.h"
#include "focusnetDicom.h"
#include "focusnetImageIO.hxx"
#include "focusnetModel.h"
#include "focusnetSegmentation.h"
#include "focusnetTestUtilities.h"

#include "itkImage.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace
{
namespace fs = std::filesystem;
using namespace focusnet;
using namespace focusnet::testing;
using LabelImage = itk::Image<unsigned char, 3>;

const std::string CtSeries = SharedData("dicom_samples/ct_series_uids_restored");
const std::string AnonymisedCtSeries = SharedData("dicom_samples/ct_series_totalsegmentator");
const std::string MrSeries = SharedData("dicom_samples/mr_series_babymri");

std::shared_ptr<const Model>
LungModel()
{
  static const auto model = std::make_shared<const Model>(
    Model::Load(std::string(FOCUSNET_SOURCE_DIR) + "/test_data/models/focusnet-lung.fnm"));
  return model;
}

std::vector<fs::path>
SortedFiles(const std::string & folder)
{
  std::vector<fs::path> files;
  for (const auto & entry : fs::directory_iterator(folder))
  {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

/** Copies the files of folder into destination; with split, the second half goes into a sub-folder. */
void
CopySeries(const std::string & folder, const fs::path & destination, bool split = false)
{
  const auto files = SortedFiles(folder);
  for (std::size_t k = 0; k < files.size(); ++k)
  {
    const fs::path target = split && k >= files.size() / 2 ? destination / "more" : destination;
    fs::create_directories(target);
    fs::copy_file(files[k], target / files[k].filename());
  }
}

/** A damaged DICOM file (the first 1000 bytes of a real one) and a text file. */
void
AddBrokenAndForeignFiles(const fs::path & root)
{
  fs::create_directories(root / "broken");
  std::ifstream     in(SortedFiles(MrSeries).front(), std::ios::binary);
  std::vector<char> head(1000);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  std::ofstream(root / "broken" / "damaged.dcm", std::ios::binary).write(head.data(), in.gcount());
  std::ofstream(root / "notes.txt") << "not DICOM\n";
}

/** dciodvfy's findings of class "Error" for a DICOM file (empty: valid). */
std::vector<std::string>
DciodvfyErrors(const std::string & fileName)
{
  const std::string command = std::string("'") + FOCUSNET_DCIODVFY + "' '" + fileName + "' 2>&1";
  FILE *            pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::vector<std::string> errors;
  std::string              all;
  char                     line[4096];
  while (pipe && fgets(line, sizeof line, pipe))
  {
    all += line;
    if (std::string(line).rfind("Error", 0) == 0)
    {
      errors.push_back(line);
    }
  }
  const int status = pipe ? pclose(pipe) : -1;
  EXPECT_NE(all.find("Segmentation"), std::string::npos) << "dciodvfy did not recognise a Segmentation:\n" << all;
  EXPECT_NE(status, -1);
  return errors;
}

/** The one series of a folder, as ScanDicomTree finds it. */
DicomSeriesInfo
OnlySeries(const std::string & folder)
{
  const auto series = ScanDicomTree(folder).series;
  EXPECT_EQ(series.size(), 1U) << folder;
  return series.front();
}

/** The SEG holds exactly the label map: each frame on its slice (by position), equal pixels, and every slice
 * without a frame is empty. Returns the number of frames. */
std::size_t
ExpectSegmentationEqualsLabelMap(const DicomSegmentationContents & seg,
                                 const LabelImage *                labels,
                                 const DicomSeriesInfo &           source)
{
  const auto size = labels->GetLargestPossibleRegion().GetSize();
  EXPECT_EQ(seg.columns, size[0]);
  EXPECT_EQ(seg.rows, size[1]);
  std::set<itk::IndexValueType> covered;
  for (const DicomSegmentationFrame & frame : seg.frames)
  {
    EXPECT_EQ(frame.segmentNumber, 1);
    itk::IndexValueType slice = -1;
    for (itk::IndexValueType k = 0; k < static_cast<itk::IndexValueType>(size[2]); ++k)
    {
      LabelImage::PointType point;
      labels->TransformIndexToPhysicalPoint(LabelImage::IndexType{ { 0, 0, k } }, point);
      if (std::abs(point[0] - frame.position[0]) < 1e-3 && std::abs(point[1] - frame.position[1]) < 1e-3 &&
          std::abs(point[2] - frame.position[2]) < 1e-3)
      {
        slice = k;
      }
    }
    EXPECT_GE(slice, 0) << "no slice of the label map at the frame's position";
    if (slice < 0)
    {
      continue;
    }
    EXPECT_TRUE(covered.insert(slice).second) << "two frames on slice " << slice;
    EXPECT_EQ(frame.sourceSopInstanceUid, source.instances.at(static_cast<std::size_t>(slice)).sopInstanceUid);
    const unsigned char * expected = labels->GetBufferPointer() + slice * size[0] * size[1];
    EXPECT_EQ(frame.pixels.size(), size[0] * size[1]);
    EXPECT_TRUE(std::equal(frame.pixels.begin(), frame.pixels.end(), expected)) << "frame on slice " << slice;
  }
  for (itk::IndexValueType k = 0; k < static_cast<itk::IndexValueType>(size[2]); ++k)
  {
    if (covered.count(k) == 0)
    {
      const unsigned char * pixels = labels->GetBufferPointer() + k * size[0] * size[1];
      EXPECT_TRUE(std::all_of(pixels, pixels + size[0] * size[1], [](unsigned char v) { return v == 0; }))
        << "slice " << k << " has label pixels but no frame";
    }
  }
  return seg.frames.size();
}

TEST(FocusNetDicomScanRealData, FindsSeriesAcrossFoldersAndReportsDamagedFiles)
{
  ScratchDirectory directory;
  CopySeries(CtSeries, directory.Path() / "study" / "ct", true);
  CopySeries(MrSeries, directory.Path() / "study" / "mr");
  AddBrokenAndForeignFiles(directory.Path());

  const DicomScan scan = ScanDicomTree(directory.Path().string());
  ASSERT_EQ(scan.series.size(), 2U);
  ASSERT_EQ(scan.unreadable.size(), 1U);
  EXPECT_NE(scan.unreadable.front().path.find("damaged.dcm"), std::string::npos);
  EXPECT_EQ(scan.otherFiles, 1U);

  const auto ct =
    std::find_if(scan.series.begin(), scan.series.end(), [](const DicomSeriesInfo & s) { return s.modality == "CT"; });
  ASSERT_NE(ct, scan.series.end());
  EXPECT_EQ(ct->problem, "");
  EXPECT_EQ(ct->instances.size(), 20U); // both sub-folders
  EXPECT_EQ(ct->size, (std::array<std::size_t, 3>{ { 512, 512, 20 } }));
  EXPECT_NEAR(ct->spacing[0], 0.9765625, 1e-6);
  EXPECT_NEAR(ct->spacing[2], 2.0, 1e-6);
  EXPECT_EQ(ct->transferSyntaxUid, "1.2.840.10008.1.2.4.90");
  for (std::size_t k = 1; k < ct->instances.size(); ++k)
  {
    EXPECT_LT(ct->instances[k - 1].position[2], ct->instances[k].position[2]); // axial: sorted along z
  }
  // The series reads as one volume with the geometry of its files.
  const auto image = ReadImageSource<itk::Image<float, 3>>(ToImageSource(*ct));
  EXPECT_EQ(image->GetLargestPossibleRegion().GetSize()[2], 20U);
  EXPECT_NEAR(image->GetOrigin()[2], ct->instances.front().position[2], 1e-4);
}

TEST(FocusNetDicomScanRealData, FlagsASeriesWithAMissingSlice)
{
  ScratchDirectory directory;
  CopySeries(MrSeries, directory.Path());
  fs::remove(SortedFiles(directory.Path().string())[2]);
  const DicomScan scan = ScanDicomTree(directory.Path().string());
  ASSERT_EQ(scan.series.size(), 1U);
  EXPECT_NE(scan.series.front().problem.find("missing slices"), std::string::npos) << scan.series.front().problem;
  ExpectErrorContaining([&] { ToImageSource(scan.series.front()); }, { "missing slices" });
}

/** Rewrites one attribute of a DICOM file in place (DCMTK), as a damaged or unusual archive would have it. */
void
SetAttribute(const fs::path & file, const DcmTagKey & tag, const std::string & value)
{
  DcmFileFormat dicom;
  ASSERT_TRUE(dicom.loadFile(file.c_str()).good()) << file;
  // DCMTK reads large values (the pixel data) from the file when saving: into memory first, as the file is replaced.
  ASSERT_TRUE(dicom.loadAllDataIntoMemory().good()) << file;
  ASSERT_TRUE(dicom.getDataset()->putAndInsertString(tag, value.c_str()).good());
  ASSERT_TRUE(dicom.saveFile(file.c_str(), dicom.getDataset()->getOriginalXfer()).good()) << file;
}

TEST(FocusNetDicomScanRealData, FlagsEachKindOfInconsistentGeometry)
{
  struct Case
  {
    DcmTagKey   tag;
    std::string value;
    std::string reason;
  };
  const std::vector<Case> cases{
    { DCM_GantryDetectorTilt, "15", "gantry tilt of 15 degrees" },
    { DCM_ImageOrientationPatient, "1\\0\\0\\0\\0\\-1", "mixed orientations" },
    { DCM_PixelSpacing, "2\\2", "mixed pixel spacings" },
    { DCM_Rows, "128", "mixed image sizes" },
  };
  for (const Case & c : cases)
  {
    ScratchDirectory directory;
    CopySeries(MrSeries, directory.Path());
    SetAttribute(SortedFiles(directory.Path().string())[3], c.tag, c.value);
    const DicomScan scan = ScanDicomTree(directory.Path().string());
    ASSERT_EQ(scan.series.size(), 1U) << c.reason;
    EXPECT_NE(scan.series.front().problem.find(c.reason), std::string::npos)
      << "expected \"" << c.reason << "\", got \"" << scan.series.front().problem << "\"";
  }
  // A stack whose positions shift sideways from slice to slice: a tilted gantry without the tag.
  ScratchDirectory directory;
  CopySeries(MrSeries, directory.Path());
  const DicomSeriesInfo series = OnlySeries(directory.Path().string());
  for (std::size_t k = 0; k < series.instances.size(); ++k)
  {
    const DicomInstance & instance = series.instances[k];
    std::ostringstream    position;
    position.precision(12);
    for (std::size_t d = 0; d < 3; ++d)
    {
      // 2 mm along the row direction per slice, 9 mm apart: about 12.5 degrees.
      position << (d ? "\\" : "") << instance.position[d] + 2.0 * static_cast<double>(k) * instance.orientation[d];
    }
    SetAttribute(instance.path, DCM_ImagePositionPatient, position.str());
  }
  const std::string problem = OnlySeries(directory.Path().string()).problem;
  EXPECT_NE(problem.find("sheared (gantry tilt of 12."), std::string::npos) << problem;
}

TEST(FocusNetDicomScanRealData, ShardsCoverEverySeriesExactlyOnce)
{
  const DicomScan scan = ScanDicomTree(SharedData("dicom_samples"));
  ASSERT_GE(scan.series.size(), 5U);
  for (unsigned int count = 1; count <= 4; ++count)
  {
    for (const DicomSeriesInfo & series : scan.series)
    {
      unsigned int owners = 0;
      for (unsigned int index = 0; index < count; ++index)
      {
        owners += InShard(series.key, Shard{ index, count });
      }
      EXPECT_EQ(owners, 1U) << series.key << " in " << count << " shards";
    }
  }
  EXPECT_EQ(ParseShard("2/4").index, 2U);
  EXPECT_EQ(ParseShard("2/4").count, 4U);
  for (const char * bad : { "4/4", "-1/2", "1", "a/b", "1/0", "1/2/3" })
  {
    ExpectErrorContaining([&] { ParseShard(bad); }, { bad });
  }
}

TEST(FocusNetDicomSegmentationRealData, CtSegmentationPassesDciodvfyAndHoldsTheLabelMap)
{
  ScratchDirectory    directory;
  SegmentationOptions options;
  options.inference.threads = 2;
  options.dicomSegmentationFileName = directory / "ct-seg.dcm";
  const SegmentationResult result = SegmentImageFile(CtSeries, directory / "ct.nrrd", LungModel(), options);
  ASSERT_GT(result.labelVoxels, 1000U); // the real lung model finds lung in this chest CT

  EXPECT_EQ(DciodvfyErrors(directory / "ct-seg.dcm"), std::vector<std::string>{});
  const DicomSegmentationContents seg = ReadDicomSegmentation(directory / "ct-seg.dcm");
  EXPECT_EQ(seg.segmentLabel, "Lung");
  EXPECT_EQ(seg.algorithmType, "AUTOMATIC");
  EXPECT_NE(seg.algorithmName.find("FocusNet"), std::string::npos);
  const DicomSeriesInfo source = OnlySeries(CtSeries);
  EXPECT_EQ(seg.frameOfReferenceUid, source.instances.front().frameOfReferenceUid);
  EXPECT_EQ(seg.referencedSeriesUids, std::vector<std::string>{ source.seriesUid });

  const auto        labels = ReadImageSource<LabelImage>(InspectImageSource(directory / "ct.nrrd"));
  const std::size_t frames = ExpectSegmentationEqualsLabelMap(seg, labels, OnlySeries(CtSeries));
  EXPECT_GT(frames, 0U);
  EXPECT_LE(frames, 20U);
}

TEST(FocusNetDicomSegmentationRealData, EachSourceHeaderIsParsedByTheScanAndTheWriterOnly)
{
  // The scan reads each header for the series' geometry and the SEG checks; the writer reads each once more for the
  // references it copies. Checking before any work must not read them a third time.
  ScratchDirectory    directory;
  SegmentationOptions options;
  options.inference.threads = 2;
  const std::size_t files = OnlySeries(CtSeries).instances.size();
  const std::size_t before = DicomHeadersRead();
  SegmentImageFile(CtSeries, directory / "seg.dcm", LungModel(), options);
  EXPECT_EQ(DicomHeadersRead() - before, 2 * files);
}

TEST(FocusNetDicomSegmentationRealData, ObliqueMrPassesDciodvfyWithEveryFrameOnItsSlice)
{
  ScratchDirectory    directory;
  SegmentationOptions options;
  options.inference.threads = 2;
  options.dicomSegmentationFileName = directory / "mr-seg.dcm";
  options.dicomSegmentation.skipEmptyFrames = false;
  const SegmentationResult result = SegmentImageFile(MrSeries, directory / "mr.nrrd", LungModel(), options);

  EXPECT_EQ(DciodvfyErrors(directory / "mr-seg.dcm"), std::vector<std::string>{});
  const DicomSegmentationContents seg = ReadDicomSegmentation(directory / "mr-seg.dcm");
  const auto                      labels = ReadImageSource<LabelImage>(InspectImageSource(directory / "mr.nrrd"));
  EXPECT_EQ(ExpectSegmentationEqualsLabelMap(seg, labels, OnlySeries(MrSeries)), 6U);
}

TEST(FocusNetDicomSegmentationRealData, BlankUidsAreRefusedBeforeAnyWork)
{
  ScratchDirectory directory;
  ExpectErrorContaining([&] { SegmentImageFile(AnonymisedCtSeries, directory / "seg.dcm", LungModel(), {}); },
                        { "seg.dcm", "SOPInstanceUID", "SeriesInstanceUID", "anonymised", "label map" });
  EXPECT_TRUE(directory.Files().empty());
  // A label map is still made from the same series.
  SegmentationOptions options;
  options.inference.threads = 2;
  EXPECT_GT(SegmentImageFile(AnonymisedCtSeries, directory / "label.nrrd", LungModel(), options).labelVoxels, 0U);
}

TEST(FocusNetSegmentationJobs, OptionsOutOfRangeAreRefusedByTheLibraryBeforeAnyOutput)
{
  // The library's own checks, as a program calling it without a front door's meets them (the words by hand).
  ScratchDirectory    directory;
  const std::string   lung = std::string(FOCUSNET_SOURCE_DIR) + "/test_data/Input/lung_ct_ID_0000_Z_0142.tif";
  SegmentationOptions badThreshold;
  badThreshold.threshold = 7;
  SegmentationOptions badBatch;
  badBatch.inference.batchSize = 0;
  const std::vector<std::pair<SegmentationOptions, std::string>> cases = {
    { badThreshold, "threshold must lie strictly between 0 and 1, not 7" },
    { badBatch, "batch size must lie in [1, 256], not 0" }
  };
  for (const auto & item : cases)
  {
    const SegmentationOptions & options = item.first;
    const std::string &         words = item.second;
    ExpectErrorContaining([&] { SegmentImageFile(lung, directory / "labels.nrrd", LungModel(), options); }, { words });
    BatchOptions batch;
    batch.inputRoot = (fs::path(FOCUSNET_SOURCE_DIR) / "test_data" / "Input").string();
    batch.outputRoot = (directory.Path() / "batch").string();
    batch.segmentation = options;
    ExpectErrorContaining([&] { RunBatch(batch, LungModel()); }, { words });
    EXPECT_TRUE(directory.Files().empty()) << words;
    EXPECT_FALSE(fs::exists(directory.Path() / "batch")) << words;
  }
}

/** The report's rows by the folder (or file) they come from, relative to the input root. */
std::map<std::string, const BatchItem *>
BySource(const BatchReport & report, const fs::path & root)
{
  std::map<std::string, const BatchItem *> items;
  for (const BatchItem & item : report.items)
  {
    items[fs::relative(item.source, root).generic_string()] = &item;
  }
  return items;
}

TEST(FocusNetBatchRealData, SegmentsATreeIntoDciodvfyValidSegsReportsProblemsAndResumes)
{
  ScratchDirectory directory;
  const fs::path   input = directory.Path() / "in";
  CopySeries(CtSeries, input / "patient1" / "ct", true);
  CopySeries(AnonymisedCtSeries, input / "patient2" / "ct");
  CopySeries(MrSeries, input / "patient3" / "mr");
  CopySeries(SharedData("dicom_samples/single"), input / "singles"); // 5 series: 2 CT, 3 US (2 RGB, 1 multi-frame)
  AddBrokenAndForeignFiles(input);

  BatchOptions options;
  options.inputRoot = input.string();
  options.outputRoot = (directory.Path() / "out").string();
  options.modelFileName = "focusnet-lung.fnm";
  options.segmentation.inference.threads = 2;
  std::size_t progressCalls = 0;
  options.progress = [&](std::size_t, std::size_t, const std::string &) { ++progressCalls; };
  const BatchReport first = RunBatch(options, LungModel());
  EXPECT_EQ(progressCalls, 8U);
  ASSERT_EQ(first.items.size(), 9U);
  EXPECT_EQ(first.Count("ok"), 4U);      // CT (in two folders), MR and the two single CT slices
  EXPECT_EQ(first.Count("partial"), 4U); // blank UIDs, and three ultrasound files a SEG cannot place
  EXPECT_EQ(first.Count("failed"), 1U);  // the damaged file
  auto items = BySource(first, input);
  ASSERT_EQ(items.count("patient1/ct"), 1U);
  ASSERT_EQ(items.count("patient2/ct"), 1U);
  ASSERT_EQ(items.count("broken/damaged.dcm"), 1U);
  EXPECT_EQ(items["patient1/ct"]->status, "ok");
  EXPECT_EQ(items["patient1/ct"]->files, 20U);
  EXPECT_EQ(items["patient3/mr"]->status, "ok");
  EXPECT_EQ(items["patient2/ct"]->status, "partial");
  EXPECT_NE(items["patient2/ct"]->reason.find("anonymised"), std::string::npos) << items["patient2/ct"]->reason;
  EXPECT_EQ(items["broken/damaged.dcm"]->status, "failed");
  EXPECT_NE(items["broken/damaged.dcm"]->reason.find("not a readable DICOM file"), std::string::npos);
  // The same pixels, UIDs aside.
  EXPECT_NEAR(items["patient1/ct"]->volumeMl, items["patient2/ct"]->volumeMl, 1e-9);
  EXPECT_GT(items["patient1/ct"]->volumeMl, 10.0);

  const fs::path ct = fs::path(options.outputRoot) / items["patient1/ct"]->outputFolder;
  for (const char * name : { "label.nrrd", "seg.dcm", "summary.json" })
  {
    EXPECT_TRUE(fs::exists(ct / name)) << name;
  }
  // Every SEG of the batch is valid and holds its label map.
  for (const BatchItem & item : first.items)
  {
    const fs::path folder = fs::path(options.outputRoot) / item.outputFolder;
    if (item.status == "ok")
    {
      SCOPED_TRACE(item.source);
      EXPECT_EQ(DciodvfyErrors((folder / "seg.dcm").string()), std::vector<std::string>{});
      const auto series = ScanDicomTree(item.source).series;
      const auto source = std::find_if(
        series.begin(), series.end(), [&](const DicomSeriesInfo & s) { return s.seriesUid == item.seriesUid; });
      ASSERT_NE(source, series.end());
      const auto labels = ReadImageSource<LabelImage>(InspectImageSource((folder / "label.nrrd").string()));
      ExpectSegmentationEqualsLabelMap(ReadDicomSegmentation((folder / "seg.dcm").string()), labels, *source);
    }
  }
  const fs::path anon = fs::path(options.outputRoot) / items["patient2/ct"]->outputFolder;
  EXPECT_TRUE(fs::exists(anon / "label.nrrd"));
  EXPECT_FALSE(fs::exists(anon / "seg.dcm"));
  std::ifstream csv(first.summaryFileName);
  std::string   line;
  std::size_t   lines = 0;
  while (std::getline(csv, line))
  {
    ++lines;
  }
  EXPECT_EQ(lines, 10U); // header and nine rows

  // A second run skips every series and leaves their files alone.
  const auto        written = fs::last_write_time(ct / "seg.dcm");
  const BatchReport second = RunBatch(options, LungModel());
  EXPECT_EQ(second.Count("skipped"), 8U);
  EXPECT_EQ(second.Count("failed"), 1U); // the damaged file is reported again
  EXPECT_EQ(fs::last_write_time(ct / "seg.dcm"), written);

  // The output may not lie inside the input.
  BatchOptions nested = options;
  nested.outputRoot = (input / "results").string();
  ExpectErrorContaining([&] { RunBatch(nested, LungModel()); }, { "results", "inside the input folder" });
  EXPECT_FALSE(fs::exists(nested.outputRoot));

  // DICOM SEG objects among the studies are not series to segment.
  fs::copy_file(ct / "seg.dcm", input / "patient1" / "seg.dcm");
  EXPECT_EQ(RunBatch(options, LungModel()).Count("skipped"), 8U);

  // A series interrupted before its summary was written is segmented again; the rest stays skipped.
  fs::remove(ct / "summary.json");
  fs::remove(ct / "seg.dcm");
  std::ofstream(ct / ".seg.partial-12345-0.dcm") << "a write cut short by kill -9";
  const BatchReport third = RunBatch(options, LungModel());
  EXPECT_EQ(BySource(third, input)["patient1/ct"]->status, "ok");
  EXPECT_EQ(third.Count("skipped"), 7U);
  EXPECT_TRUE(fs::exists(ct / "seg.dcm"));
  EXPECT_FALSE(fs::exists(ct / ".seg.partial-12345-0.dcm"));
}

} // namespace
