/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The focusnet command as a user runs it, on the real files in ../shared/data.

#include "focusnetImageIO.hxx"
#include "focusnetMetrics.h"
#include "focusnetModel.h"
#include "focusnetOverlay.h"
#include "focusnetTestUtilities.h"

#include "itkImageRegionConstIterator.h"
#include "itkImageRegionIteratorWithIndex.h"
#include "itkRGBPixel.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>
#include <sys/wait.h>

namespace
{
using namespace focusnet;
using focusnet::testing::BundledLungSlice;
using focusnet::testing::ScratchDirectory;
using focusnet::testing::SharedData;

struct Outcome
{
  int         exitCode;
  std::string out;
  std::string err;
};

std::string
Slurp(const std::string & fileName)
{
  std::ifstream     file(fileName);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class FocusNetCommandLine : public ::testing::Test
{
protected:
  static void
  SetUpTestSuite()
  {
    std::filesystem::create_directories(FOCUSNET_TEST_TEMPORARY_DIR);
    ModelMetadata metadata = focusnet::testing::SmallModelMetadata();
    metadata.inputSize = 64;
    metadata.normalization.mean = { -500.0 };
    metadata.normalization.standardDeviation = { 500.0 };
    Model::Create(metadata, 1).Save(ModelFile());
  }
  static std::string
  ModelFile()
  {
    return std::string(FOCUSNET_TEST_TEMPORARY_DIR) + "/command-line-model.fnm";
  }

  /** Runs `focusnet ARGS` with stdout and stderr captured into files of the scratch folder. */
  Outcome
  Focusnet(const std::string & arguments)
  {
    const std::string out = m_Directory / ".stdout";
    const std::string err = m_Directory / ".stderr";
    const std::string command =
      std::string("'") + FOCUSNET_EXECUTABLE + "' " + arguments + " >'" + out + "' 2>'" + err + "'";
    const int status = std::system(command.c_str());
    Outcome   outcome{ WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out), Slurp(err) };
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return outcome;
  }

  Outcome
  Segment(const std::string & input, const std::string & output, const std::string & extra = {})
  {
    return Focusnet("segment '" + input + "' '" + output + "' --model '" + ModelFile() + "' --threads 2 " + extra);
  }

  /** A failed command: non-zero exit, one line on stderr naming `fragment`, and no file left in the folder. */
  void
  ExpectCleanFailure(const Outcome & outcome, const std::string & fragment, size_t filesBefore = 0)
  {
    EXPECT_NE(outcome.exitCode, 0);
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
    EXPECT_NE(outcome.err.find("focusnet: error: "), std::string::npos) << outcome.err;
    EXPECT_NE(outcome.err.find(fragment), std::string::npos) << outcome.err;
    EXPECT_EQ(m_Directory.Files().size(), filesBefore);
  }

  template <typename TImage>
  static typename TImage::Pointer
  Read(const std::string & path)
  {
    return ReadImageSource<TImage>(InspectImageSource(path));
  }

  ScratchDirectory m_Directory;
};

/** Tests on the shared real data sets: registered only where ../shared/data is. */
class FocusNetCommandLineRealData : public FocusNetCommandLine
{
};

TEST_F(FocusNetCommandLineRealData, CtDicomSeriesGivesALabelMapWithTheSeriesGeometry)
{
  const std::string series = SharedData("dicom_samples/ct_series_uids_restored");
  const Outcome     outcome =
    Segment(series, m_Directory / "ct.nrrd", "--probabilities '" + (m_Directory / "p.nii.gz") + "'");
  ASSERT_EQ(outcome.exitCode, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("20 slice(s)"), std::string::npos) << outcome.out;

  const auto input = Read<itk::Image<float, 3>>(series);
  const auto labels = Read<itk::Image<unsigned char, 3>>(m_Directory / "ct.nrrd");
  EXPECT_EQ(labels->GetLargestPossibleRegion(), input->GetLargestPossibleRegion());
  for (unsigned d = 0; d < 3; ++d)
  {
    EXPECT_NEAR(labels->GetSpacing()[d], input->GetSpacing()[d], 1e-6);
    EXPECT_NEAR(labels->GetOrigin()[d], input->GetOrigin()[d], 1e-4);
    for (unsigned e = 0; e < 3; ++e)
    {
      EXPECT_NEAR(labels->GetDirection()(d, e), input->GetDirection()(d, e), 1e-9);
    }
  }
  const auto probabilities = Read<itk::Image<float, 3>>(m_Directory / "p.nii.gz");
  EXPECT_EQ(probabilities->GetLargestPossibleRegion(), input->GetLargestPossibleRegion());
  itk::ImageRegionConstIterator<itk::Image<unsigned char, 3>> l(labels, labels->GetLargestPossibleRegion());
  itk::ImageRegionConstIterator<itk::Image<float, 3>>         p(probabilities, labels->GetLargestPossibleRegion());
  for (; !l.IsAtEnd(); ++l, ++p)
  {
    ASSERT_EQ(l.Get(), p.Get() >= 0.5F ? 1 : 0);
  }
}

TEST_F(FocusNetCommandLineRealData, EveryInputKind)
{
  struct Case
  {
    std::string input, output;
    unsigned    width, height;
  };
  const std::vector<Case> cases{
    { SharedData("kaggle_lung_ct_2d/images/ID_0000_Z_0142.tif"), "lung.png", 512, 512 },
    { SharedData("isic2017_sample/images/ISIC_0009995.jpg"), "skin.nrrd", 1024, 768 },
    { SharedData("dicom_samples/mr_series_babymri"), "mr.nii.gz", 256, 256 },
    { SharedData("dicom_samples/single/examples_rgb_color.dcm"), "us.mha", 320, 240 },
    { SharedData("dicom_samples/ct_series_totalsegmentator"), "blank-uids.tif", 512, 512 },
  };
  for (const Case & c : cases)
  {
    const Outcome outcome = Segment(c.input, m_Directory / c.output);
    ASSERT_EQ(outcome.exitCode, 0) << c.input << ": " << outcome.err;
    const auto size = Read<itk::Image<unsigned char, 3>>(m_Directory / c.output)->GetLargestPossibleRegion().GetSize();
    EXPECT_EQ(size[0], c.width) << c.input;
    EXPECT_EQ(size[1], c.height) << c.input;
  }
}

TEST_F(FocusNetCommandLine, BadInputsFailCleanly)
{
  const std::string lung = BundledLungSlice();
  ExpectCleanFailure(Segment(m_Directory / "missing.tif", m_Directory / "out.nrrd"), "missing.tif");
  ExpectCleanFailure(Segment(std::string(FOCUSNET_SOURCE_DIR) + "/test_data/README.md", m_Directory / "out.nrrd"),
                     "README.md");
  ExpectCleanFailure(Segment(lung, m_Directory / "out.jpg"), "out.jpg");
  ExpectCleanFailure(Segment(lung, m_Directory / "no-folder/out.nrrd"), "does not exist");
  ExpectCleanFailure(Focusnet("segment '" + lung + "' '" + (m_Directory / "out.nrrd") + "' --model '" + lung + "'"),
                     "not a FocusNet model file");
  ExpectCleanFailure(Segment(lung, m_Directory / "out.nrrd", "--device cuda:7"), "cuda:7");

  // A file cut short: the error names it, and no output appears.
  std::ifstream original(lung, std::ios::binary);
  std::string   bytes(4000, '\0');
  original.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::ofstream(m_Directory / "cut.tif", std::ios::binary) << bytes;
  ExpectCleanFailure(Segment(m_Directory / "cut.tif", m_Directory / "out.nrrd"), "cut.tif", 1);
}

TEST_F(FocusNetCommandLineRealData, AFolderOfSeveralSeriesAsksForOne)
{
  // The library says what is wrong; the command adds the flag that chooses.
  ExpectCleanFailure(Segment(SharedData("dicom_samples/single"), m_Directory / "out.nrrd"), "--series-uid");
}

TEST_F(FocusNetCommandLine, ThresholdsAndThreadCountsAreChecked)
{
  // The model file requires 0 < threshold < 1; the flag takes what the model file may hold.
  for (const char * threshold : { "0", "1", "1.5", "-0.2" })
  {
    const Outcome outcome =
      Segment(BundledLungSlice(), m_Directory / "out.nrrd", std::string("--threshold ") + threshold);
    EXPECT_NE(outcome.exitCode, 0) << threshold;
    EXPECT_NE(
      outcome.err.find(std::string("--threshold: threshold must lie strictly between 0 and 1, not ") + threshold),
      std::string::npos)
      << outcome.err;
    EXPECT_TRUE(m_Directory.Files().empty()) << threshold;
  }
  EXPECT_EQ(Segment(BundledLungSlice(), m_Directory / "out.nrrd", "--threshold 0.999").exitCode, 0);
  std::filesystem::remove(m_Directory / "out.nrrd");
  for (const char * command : { "segment", "batch", "evaluate" })
  {
    const Outcome outcome = Focusnet(std::string(command) + " a b --threads -1");
    EXPECT_NE(outcome.exitCode, 0) << command;
    EXPECT_NE(outcome.err.find("--threads"), std::string::npos) << command << ": " << outcome.err;
  }
}

TEST_F(FocusNetCommandLine, ExistingOutputsAreKeptUnlessOverwriteIsGiven)
{
  const std::string lung = BundledLungSlice();
  const std::string output = m_Directory / "lung.nrrd";
  std::ofstream(output) << "precious";
  ExpectCleanFailure(Segment(lung, output), "--overwrite", 1);
  EXPECT_EQ(Slurp(output), "precious");
  ASSERT_EQ(Segment(lung, output, "--overwrite").exitCode, 0);
  using LabelType = itk::Image<unsigned char, 2>;
  EXPECT_EQ(Read<LabelType>(output)->GetLargestPossibleRegion().GetSize()[0], 512U);
}

TEST_F(FocusNetCommandLine, InfoReportsThePapersModelSize)
{
  const Outcome outcome = Focusnet("info focusnet --width 1 --in-channels 1");
  ASSERT_EQ(outcome.exitCode, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("parameters:         18,918,865 (18.92 M)"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("MACs per slice:     60,"), std::string::npos) << outcome.out;
}

TEST_F(FocusNetCommandLine, InitWritesAModelThatInfoAndSegmentUse)
{
  const std::string model = m_Directory / "unet.fnm";
  ASSERT_EQ(Focusnet("init unet '" + model + "' --width 0.125 --size 64 --seed 3").exitCode, 0);
  const Outcome info = Focusnet("info '" + model + "'");
  ASSERT_EQ(info.exitCode, 0) << info.err;
  EXPECT_NE(info.out.find("architecture:       unet (width 0.12"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("input size:         64 x 64"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("--tta flips:        left-right, up-down\n"), std::string::npos) << info.out;
  const Outcome segment = Focusnet("segment '" + BundledLungSlice() + "' '" + (m_Directory / "out.nii") +
                                   "' --model '" + model + "' --tta --batch-size 2");
  EXPECT_EQ(segment.exitCode, 0) << segment.err;
  EXPECT_NE(Focusnet("init resnet '" + (m_Directory / "x.fnm") + "'").exitCode, 0);
}

TEST_F(FocusNetCommandLine, OverlayPictureShowsTheOutline)
{
  const Outcome outcome = Segment(
    BundledLungSlice(), m_Directory / "lung.nrrd", "--threshold 0.5 --overlay '" + (m_Directory / "lung.png") + "'");
  ASSERT_EQ(outcome.exitCode, 0) << outcome.err;
  using PictureType = itk::Image<itk::RGBPixel<unsigned char>, 2>;
  const auto picture = Read<PictureType>(m_Directory / "lung.png");
  EXPECT_EQ(picture->GetLargestPossibleRegion().GetSize(), (itk::Size<2>{ { 512, 512 } }));
  const auto labels = Read<itk::Image<unsigned char, 2>>(m_Directory / "lung.nrrd");
  // Outline pixels carry the label colour, and only where the label map changes within one pixel.
  const auto colour = ModelMetadata().label.color;
  size_t     outline = 0;
  for (itk::ImageRegionConstIterator<PictureType> it(picture, picture->GetLargestPossibleRegion()); !it.IsAtEnd(); ++it)
  {
    const auto & p = it.Get();
    if (p[0] == colour[0] && p[1] == colour[1] && p[2] == colour[2] && p[0] != p[1])
    {
      ++outline;
      const auto index = it.GetIndex();
      bool       changes = false;
      for (int dy = -1; dy <= 1; ++dy)
      {
        for (int dx = -1; dx <= 1; ++dx)
        {
          const itk::Index<2> n{ { index[0] + dx, index[1] + dy } };
          const bool          inside = labels->GetLargestPossibleRegion().IsInside(n);
          if ((inside ? labels->GetPixel(n) : 0) != labels->GetPixel(index)) // beyond the border is background
          {
            changes = true;
          }
        }
      }
      ASSERT_TRUE(changes) << index;
    }
  }
  EXPECT_GT(outline, 0U);
  ExpectCleanFailure(
    Segment(BundledLungSlice(), m_Directory / "b.nrrd", "--overlay '" + (m_Directory / "b.jpg") + "'"), "b.jpg", 2);
  // The extension picks the format whatever its case, as for label maps.
  const Outcome upper =
    Segment(BundledLungSlice(), m_Directory / "c.nrrd", "--overlay '" + (m_Directory / "C.PNG") + "'");
  EXPECT_EQ(upper.exitCode, 0) << upper.err;
  EXPECT_TRUE(std::filesystem::exists(m_Directory / "C.PNG"));
}

TEST(FocusNetOverlay, TheDisplayWindowFollowsTheIntensities)
{
  // CT with much lung: a lung window; CT without: soft tissue; anything else: 1st to 99th percentile.
  std::vector<float> lung(1000, -800.0F), abdomen(1000, 40.0F), photograph(1000);
  lung[0] = abdomen[0] = -1024.0F;
  for (std::size_t i = 0; i < photograph.size(); ++i)
  {
    photograph[i] = static_cast<float>(i % 200);
  }
  EXPECT_EQ(DisplayWindow(lung.data(), lung.size()), (std::array<float, 2>{ -1350.0F, 150.0F }));
  EXPECT_EQ(DisplayWindow(abdomen.data(), abdomen.size()), (std::array<float, 2>{ -160.0F, 240.0F }));
  // 0..199 five times each: the 10th of 1000 sorted values is 2, the 990th is 197.
  EXPECT_EQ(DisplayWindow(photograph.data(), photograph.size()), (std::array<float, 2>{ 2.0F, 197.0F }));
}

TEST_F(FocusNetCommandLine, OverlayMosaicShowsEvenlySpacedSlicesWithTheirOutlines)
{
  // 8 slices of 20 x 16, slice k labelled in a square at x = 2k .. 2k + 3: the mosaic of 4 shows slices 1, 3, 5, 7.
  using VolumeType = itk::Image<float, 3>;
  using LabelType = itk::Image<unsigned char, 3>;
  auto volume = VolumeType::New();
  auto labels = LabelType::New();
  volume->SetRegions(itk::Size<3>{ { 20, 16, 8 } });
  labels->SetRegions(volume->GetLargestPossibleRegion());
  volume->Allocate();
  labels->Allocate(true);
  for (itk::ImageRegionIteratorWithIndex<VolumeType> it(volume, volume->GetLargestPossibleRegion()); !it.IsAtEnd();
       ++it)
  {
    const auto index = it.GetIndex();
    it.Set(static_cast<float>(index[0] * 10 + index[1]));
    const bool inside = index[0] >= 2 * index[2] && index[0] < 2 * index[2] + 4 && index[1] >= 6 && index[1] < 10;
    labels->SetPixel(index, inside ? 1 : 0);
  }
  WriteImageAtomically(volume.GetPointer(), m_Directory / "volume.mha");
  WriteImageAtomically(labels.GetPointer(), m_Directory / "labels.nrrd");
  const Outcome outcome = Focusnet("overlay '" + (m_Directory / "volume.mha") + "' '" + (m_Directory / "labels.nrrd") +
                                   "' '" + (m_Directory / "mosaic.png") + "' --slices 4 --model '" + ModelFile() + "'");
  ASSERT_EQ(outcome.exitCode, 0) << outcome.err;
  using PictureType = itk::Image<itk::RGBPixel<unsigned char>, 2>;
  const auto picture = Read<PictureType>(m_Directory / "mosaic.png");
  ASSERT_EQ(picture->GetLargestPossibleRegion().GetSize(), (itk::Size<2>{ { 40, 32 } })); // 2 x 2 tiles
  const auto colour = ModelMetadata().label.color;
  auto       isOutline = [&](long x, long y)
  {
    const auto p = picture->GetPixel({ { x, y } });
    return p[0] == colour[0] && p[1] == colour[1] && p[2] == colour[2];
  };
  for (long tile = 0; tile < 4; ++tile)
  {
    const long slice = 2 * tile + 1, left = (tile % 2) * 20, top = (tile / 2) * 16;
    EXPECT_TRUE(isOutline(left + 2 * slice, top + 7)) << "tile " << tile;              // the square's left edge
    EXPECT_FALSE(isOutline(left + 2 * slice + 1, top + 8)) << "tile " << tile;         // its inside
    EXPECT_FALSE(isOutline(left + (2 * slice + 10) % 20, top + 2)) << "tile " << tile; // far from it
  }
  // Not blank: the image shows through, in more than a few gray levels.
  std::set<unsigned char> grays;
  for (long x = 0; x < 20; ++x)
  {
    grays.insert(picture->GetPixel({ { x, 0 } })[0]);
  }
  EXPECT_GT(grays.size(), 10U);
  ExpectCleanFailure(Focusnet("overlay '" + (m_Directory / "volume.mha") + "' '" + BundledLungSlice() + "' '" +
                              (m_Directory / "bad.png") + "' --model '" + ModelFile() + "'"),
                     "not a label map",
                     3);
}

TEST_F(FocusNetCommandLine, DefaultModelSegmentsTheBundledLungSlice)
{
  // The shipped model on the bundled slice, compared with the slice's manual mask.
  const std::string model = std::string(FOCUSNET_SOURCE_DIR) + "/test_data/models/focusnet-lung.fnm";
  const std::string input = BundledLungSlice();
  const Outcome     outcome =
    Focusnet("segment '" + input + "' '" + (m_Directory / "lung.nrrd") + "' --threads 2 --model '" + model + "'");
  ASSERT_EQ(outcome.exitCode, 0) << outcome.err;
  const auto                labels = Read<itk::Image<unsigned char, 2>>(m_Directory / "lung.nrrd");
  const auto                truth = Read<itk::Image<unsigned char, 2>>(std::string(FOCUSNET_SOURCE_DIR) +
                                                        "/test_data/Input/lung_ct_ID_0000_Z_0142_mask.tif");
  std::vector<std::uint8_t> a, b;
  for (itk::ImageRegionConstIterator<itk::Image<unsigned char, 2>> it(labels, labels->GetLargestPossibleRegion());
       !it.IsAtEnd();
       ++it)
  {
    a.push_back(it.Get());
  }
  for (itk::ImageRegionConstIterator<itk::Image<unsigned char, 2>> it(truth, truth->GetLargestPossibleRegion());
       !it.IsAtEnd();
       ++it)
  {
    b.push_back(it.Get());
  }
  ASSERT_EQ(a.size(), b.size());
  EXPECT_GT(ConfusionCounts::Count(b.data(), a.data(), a.size()).Dice(), 0.95);
  // It was trained without up-down flips (axial CT), so --tta uses the left-right flip only.
  const Outcome info = Focusnet("info '" + model + "'");
  EXPECT_NE(info.out.find("--tta flips:        left-right\n"), std::string::npos) << info.out;
}

TEST_F(FocusNetCommandLineRealData, DicomListPrintsOneLinePerSeriesWithItsGeometry)
{
  const Outcome outcome = Focusnet("dicom list '" + SharedData("dicom_samples") + "'");
  ASSERT_EQ(outcome.exitCode, 0) << outcome.err;
  std::istringstream       lines(outcome.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);)
  {
    rows.push_back(line);
  }
  ASSERT_EQ(rows.size(), 9U) << outcome.out; // a header and 8 series
  EXPECT_EQ(rows.front().rfind("series_uid\tmodality\tdescription\tinstances\tsize\tspacing_mm", 0), 0U);
  const auto row = [&](const std::string & fragment)
  {
    const auto found = std::find_if(
      rows.begin(), rows.end(), [&](const std::string & r) { return r.find(fragment) != std::string::npos; });
    return found == rows.end() ? std::string() : *found;
  };
  EXPECT_NE(row("ct_series_uids_restored").find("\tCT\tCT Body 3.0\t20\t512x512x20\t0.9766x0.9766x2\tJPEG 2000"),
            std::string::npos)
    << outcome.out;
  EXPECT_NE(row("mr_series_babymri").find("\t6\t256x256x6\t1x1x9\t"), std::string::npos) << outcome.out;
  EXPECT_EQ(row("ct_series_totalsegmentator").rfind("(none)\tCT", 0), 0U) << outcome.out;
  EXPECT_NE(outcome.err.find("8 series, 0 unreadable DICOM files, 1 other files skipped"), std::string::npos)
    << outcome.err;
}

TEST_F(FocusNetCommandLineRealData, BatchSegmentsEverySeriesAndSkipsThemOnTheSecondRun)
{
  std::filesystem::create_directories(m_Directory / "in/mr");
  for (const auto & file : std::filesystem::directory_iterator(SharedData("dicom_samples/mr_series_babymri")))
  {
    std::filesystem::copy_file(file.path(), std::filesystem::path(m_Directory / "in/mr") / file.path().filename());
  }
  std::filesystem::copy_file(SharedData("dicom_samples/single/CT_small.dcm"), m_Directory / "in/ct.dcm");
  const std::string command = "batch '" + (m_Directory / "in") + "' '" + (m_Directory / "out") + "' --model '" +
                              ModelFile() + "' --threads 2 --jobs 2 --modality ct,MR";
  const Outcome first = Focusnet(command);
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_NE(first.out.find("2 series: 2 ok, 0 partial, 0 skipped, 0 failed"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("series/min"), std::string::npos) << first.out;
  const std::string summary = Slurp(m_Directory / "out/summary.csv");
  EXPECT_EQ(std::count(summary.begin(), summary.end(), '\n'), 3) << summary;

  const Outcome second = Focusnet(command);
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_NE(second.out.find("2 series: 0 ok, 0 partial, 2 skipped, 0 failed"), std::string::npos) << second.out;

  // Only MR: the CT series is listed as not selected.
  const Outcome mr = Focusnet(command.substr(0, command.find("--modality")) + "--modality MR");
  EXPECT_NE(mr.out.find("2 series: 0 ok, 0 partial, 2 skipped"), std::string::npos) << mr.out;
  EXPECT_NE(Slurp(m_Directory / "out/summary.csv").find("modality CT not selected"), std::string::npos);

  ExpectCleanFailure(Focusnet("batch '" + (m_Directory / "in") + "' '" + (m_Directory / "out2") + "' --model '" +
                              ModelFile() + "' --shard 3/3"),
                     "--shard '3/3'",
                     2); // in/ and out/ only
}

TEST_F(FocusNetCommandLineRealData, ShardsTogetherDoEverySeriesOnceAndTheMergeNamesWhatIsMissing)
{
  std::filesystem::create_directories(m_Directory / "in/mr");
  for (const auto & file : std::filesystem::directory_iterator(SharedData("dicom_samples/mr_series_babymri")))
  {
    std::filesystem::copy_file(file.path(), std::filesystem::path(m_Directory / "in/mr") / file.path().filename());
  }
  for (const char * single : { "CT_small.dcm", "dicompyler-ct.0.dcm", "examples_ybr_color.dcm" })
  {
    std::filesystem::copy_file(SharedData(std::string("dicom_samples/single/") + single),
                               m_Directory / (std::string("in/") + single));
  }
  const std::string roots = "'" + (m_Directory / "in") + "' '" + (m_Directory / "out") + "'";
  auto              seriesOf = [](const std::string & csv, const std::string & status)
  {
    std::multiset<std::string> uids; // the series_uid column of the rows with this status
    std::istringstream         lines(csv);
    std::string                line;
    std::getline(lines, line);
    while (std::getline(lines, line))
    {
      std::vector<std::string> fields;
      std::istringstream       cells(line);
      for (std::string cell; std::getline(cells, cell, ',');)
      {
        fields.push_back(cell);
      }
      if (fields.size() > 3 && fields[0] == status)
      {
        uids.insert(fields[3]);
      }
    }
    return uids;
  };

  ASSERT_EQ(Focusnet("batch " + roots + " --model '" + ModelFile() + "' --formats nrrd --shard 0/2").exitCode, 0);
  const auto    first = seriesOf(Slurp(m_Directory / "out/summary-shard-0-of-2.csv"), "ok");
  const Outcome incomplete = Focusnet("batch " + roots + " --merge");
  const auto    missing = seriesOf(Slurp(m_Directory / "out/summary.csv"), "missing");
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(missing.empty()) << "the 4 series all hash to shard 0 of 2: pick other samples";
  EXPECT_NE(incomplete.exitCode, 0);
  EXPECT_NE(incomplete.err.find(std::to_string(missing.size()) + " series missing"), std::string::npos)
    << incomplete.err;
  EXPECT_NE(incomplete.err.find("no summary: summary-shard-1-of-2.csv"), std::string::npos) << incomplete.err;
  for (const std::string & uid : missing)
  {
    EXPECT_NE(incomplete.err.find("missing: " + uid), std::string::npos) << incomplete.err;
  }

  ASSERT_EQ(Focusnet("batch " + roots + " --model '" + ModelFile() + "' --formats nrrd --shard 1/2").exitCode, 0);
  const auto second = seriesOf(Slurp(m_Directory / "out/summary-shard-1-of-2.csv"), "ok");
  EXPECT_EQ(second, missing); // the other shard did exactly what was missing
  const Outcome complete = Focusnet("batch " + roots + " --merge");
  EXPECT_EQ(complete.exitCode, 0) << complete.err;
  EXPECT_NE(complete.out.find("4 series: 4 ok, 0 partial, 0 skipped, 0 failed, 0 missing"), std::string::npos)
    << complete.out;
  auto all = first;
  all.insert(second.begin(), second.end());
  EXPECT_EQ(seriesOf(Slurp(m_Directory / "out/summary.csv"), "ok"), all);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 4U); // four different series, each once
}

TEST_F(FocusNetCommandLineRealData, DicomSegOfAnAnonymisedSeriesIsRefusedCleanly)
{
  ExpectCleanFailure(Segment(SharedData("dicom_samples/ct_series_totalsegmentator"), m_Directory / "seg.dcm"),
                     "seg.dcm: cannot write a DICOM Segmentation");
  ExpectCleanFailure(
    Segment(BundledLungSlice(), m_Directory / "label.nrrd", "--dicom-seg '" + (m_Directory / "seg.dcm") + "'"),
    "seg.dcm: cannot write a DICOM Segmentation: " + BundledLungSlice() + " is not DICOM");
}

TEST_F(FocusNetCommandLine, HelpForEverySubcommand)
{
  for (const char * command : { "--help",
                                "segment --help",
                                "batch --help",
                                "dicom list --help",
                                "init --help",
                                "info --help",
                                "evaluate --help" })
  {
    const Outcome outcome = Focusnet(command);
    EXPECT_EQ(outcome.exitCode, 0) << command;
    EXPECT_NE(outcome.out.find("Usage"), std::string::npos) << command;
  }
  EXPECT_NE(Focusnet("").exitCode, 0);
}

} // namespace
