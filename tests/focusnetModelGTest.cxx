/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The core through its public, LibTorch-free API: model sizes, the model file, metadata, atomic writes.

#include "focusnetAtomicFile.h"
#include "focusnetInferenceEngine.h"
#include "focusnetModel.h"
#include "focusnetTestUtilities.h"

#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace
{
using namespace focusnet;
using focusnet::testing::ExpectErrorContaining;
using focusnet::testing::RandomValues;
using focusnet::testing::ScratchDirectory;
using focusnet::testing::SmallModelMetadata;

std::string
ReadBytes(const std::string & fileName)
{
  std::ifstream file(fileName, std::ios::binary);
  return { std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>() };
}

void
WriteBytes(const std::string & fileName, const std::string & bytes)
{
  std::ofstream(fileName, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<float>
Predict(const Model &              model,
        const std::vector<float> & slices,
        int64_t                    count,
        int64_t                    height,
        int64_t                    width,
        InferenceOptions           options = {})
{
  options.device = "cpu";
  options.threads = 1;
  InferenceEngine    engine(model, options);
  std::vector<float> probabilities(static_cast<size_t>(count * height * width));
  engine.Predict(
    slices.data(), count, height, width, model.Metadata().architecture.inputChannels, probabilities.data());
  return probabilities;
}

TEST(FocusNetModel, FullWidthHasThePapersParameterCountAndCost)
{
  ModelMetadata metadata; // defaults: FocusNet, width 1, one input channel, a0 = 24, 256 x 256
  const Model   model = Model::Create(metadata);
  // The paper's hand count: about 18.9 M parameters and 61 GMAC per 256 x 256 image.
  EXPECT_NEAR(static_cast<double>(model.ParameterCount()), 18.9e6, 0.01 * 18.9e6);
  EXPECT_NEAR(static_cast<double>(model.MultiplyAccumulatesPerSlice()), 61e9, 0.02 * 61e9);
}

TEST(FocusNetModel, ParameterCountFollowsTheOptions)
{
  ModelMetadata metadata;
  const auto    full = Model::Create(metadata).ParameterCount();
  metadata.architecture.attentionStemWidth = 32;
  EXPECT_GT(Model::Create(metadata).ParameterCount(), full);
  metadata.architecture.attentionStemWidth = 24;
  metadata.architecture.inputChannels = 3;
  metadata.normalization.mean = { 0, 0, 0 };
  metadata.normalization.standardDeviation = { 1, 1, 1 };
  // Only the two stems see the input: 3x3x24 (no bias) and 7x7x64 weights per extra channel.
  EXPECT_EQ(Model::Create(metadata).ParameterCount() - full, 2 * (3 * 3 * 24 + 7 * 7 * 64));
  metadata.architecture.inputChannels = 1;
  metadata.normalization.mean = { 0 };
  metadata.normalization.standardDeviation = { 1 };
  metadata.architecture.width = 0.5;
  const auto half = Model::Create(metadata).ParameterCount();
  EXPECT_NEAR(static_cast<double>(half) / static_cast<double>(full), 0.25, 0.02);
}

TEST(FocusNetModel, ChannelFloorWidensOnlyTheNarrowLayers)
{
  ModelMetadata metadata;
  const Model   paper = Model::Create(metadata);
  // At full width the narrowest FocusNet layer (the last refinement block) has 4 channels: a floor of 4 is a no-op.
  metadata.architecture.minimumChannels = 4;
  EXPECT_EQ(Model::Create(metadata).ParameterCount(), paper.ParameterCount());
  metadata.architecture.minimumChannels = 5;
  EXPECT_GT(Model::Create(metadata).ParameterCount(), paper.ParameterCount());

  // At width 0.25 the full-resolution tail shrinks to 8 -> 4 -> 1 channels; a floor of 16 widens it (and the
  // attention stem) but leaves every layer of 16 or more channels as it was: a small share of the cost.
  metadata.architecture.width = 0.25;
  metadata.architecture.minimumChannels = 1;
  const Model narrow = Model::Create(metadata);
  metadata.architecture.minimumChannels = 16;
  const Model floored = Model::Create(metadata);
  EXPECT_GT(floored.ParameterCount(), narrow.ParameterCount());
  EXPECT_LT(floored.ParameterCount(), narrow.ParameterCount() * 11 / 10);
  EXPECT_GT(floored.MultiplyAccumulatesPerSlice(), narrow.MultiplyAccumulatesPerSlice());

  // U-Net's narrowest layer at width 0.25 already has 16 channels.
  metadata.architecture.name = "unet";
  const auto unet = Model::Create(metadata).ParameterCount();
  metadata.architecture.minimumChannels = 1;
  EXPECT_EQ(Model::Create(metadata).ParameterCount(), unet);
}

TEST(FocusNetModel, UNetBaselineIsTheClassicSize)
{
  ModelMetadata metadata;
  metadata.architecture.name = "unet";
  // Ronneberger's U-Net has 31.0 M parameters; batch norm and the 2x2 up-convolutions keep it close.
  const Model model = Model::Create(metadata);
  EXPECT_NEAR(static_cast<double>(model.ParameterCount()), 31.0e6, 0.05 * 31.0e6);
}

TEST(FocusNetModel, SameSeedSameWeights)
{
  const ModelMetadata metadata = SmallModelMetadata();
  EXPECT_EQ(Model::Create(metadata, 7).WeightsChecksum(), Model::Create(metadata, 7).WeightsChecksum());
  EXPECT_NE(Model::Create(metadata, 7).WeightsChecksum(), Model::Create(metadata, 8).WeightsChecksum());
}

TEST(FocusNetModel, FileRoundTripKeepsWeightsAndMetadata)
{
  ScratchDirectory directory;
  ModelMetadata    metadata = SmallModelMetadata(3);
  metadata.threshold = 0.4;
  metadata.label.name = "Skin lesion";
  metadata.label.value = 2;
  metadata.label.color = { 1, 2, 3 };
  metadata.label.type = { "52988006", "SCT", "Lesion" };
  metadata.architecture.dropoutPlacement = DropoutPlacement::Throughout;
  metadata.provenanceJson = R"({"data":"isic2017","epochs":3})";
  const Model model = Model::Create(metadata, 11);
  model.Save(directory / "model.fnm");
  EXPECT_EQ(directory.Files(), std::vector<std::string>{ "model.fnm" }); // no temporary left behind

  const Model loaded = Model::Load(directory / "model.fnm");
  // Field by field against what was set, not the JSON against the JSON: a field both sides dropped would pass that.
  const ModelMetadata & m = loaded.Metadata();
  EXPECT_EQ(m.architecture.name, metadata.architecture.name);
  EXPECT_EQ(m.architecture.inputChannels, 3);
  EXPECT_EQ(m.architecture.width, metadata.architecture.width);
  EXPECT_EQ(m.architecture.attentionStemWidth, metadata.architecture.attentionStemWidth);
  EXPECT_EQ(m.architecture.minimumChannels, metadata.architecture.minimumChannels);
  EXPECT_EQ(m.architecture.dropoutPlacement, DropoutPlacement::Throughout);
  EXPECT_EQ(m.architecture.dropoutRate, metadata.architecture.dropoutRate);
  EXPECT_EQ(m.inputSize, metadata.inputSize);
  EXPECT_EQ(m.normalization.kind, metadata.normalization.kind);
  EXPECT_EQ(m.normalization.mean, metadata.normalization.mean);
  EXPECT_EQ(m.normalization.standardDeviation, metadata.normalization.standardDeviation);
  EXPECT_EQ(m.threshold, 0.4);
  EXPECT_EQ(m.label.name, "Skin lesion");
  EXPECT_EQ(m.label.value, 2);
  EXPECT_EQ(m.label.color, (std::array<std::uint8_t, 3>{ 1, 2, 3 }));
  EXPECT_EQ(m.label.type.value, "52988006");
  EXPECT_EQ(m.label.type.scheme, "SCT");
  EXPECT_EQ(m.label.type.meaning, "Lesion");
  EXPECT_EQ(m.label.category.value, metadata.label.category.value);
  EXPECT_EQ(m.label.category.meaning, metadata.label.category.meaning);
  EXPECT_EQ(m.provenanceJson, R"({"data":"isic2017","epochs":3})");
  EXPECT_EQ(loaded.WeightsChecksum(), model.WeightsChecksum());
  EXPECT_EQ(loaded.ParameterCount(), model.ParameterCount());

  const auto slices = RandomValues(2 * 24 * 40 * 3, 1);
  EXPECT_EQ(Predict(loaded, slices, 2, 24, 40), Predict(model, slices, 2, 24, 40));
}

class FocusNetModelFile : public ::testing::Test
{
protected:
  void
  SetUp() override
  {
    Model::Create(SmallModelMetadata()).Save(m_Directory / "good.fnm");
    m_Bytes = ReadBytes(m_Directory / "good.fnm");
  }
  std::string
  Write(const std::string & name, const std::string & bytes)
  {
    WriteBytes(m_Directory / name, bytes);
    return m_Directory / name;
  }

  ScratchDirectory m_Directory;
  std::string      m_Bytes;
};

TEST_F(FocusNetModelFile, TruncatedFileIsRejected)
{
  const std::string half = Write("half.fnm", m_Bytes.substr(0, m_Bytes.size() / 2));
  ExpectErrorContaining([&] { Model::Load(half); }, { half, "truncated" });
  const std::string header = Write("header.fnm", m_Bytes.substr(0, 15));
  ExpectErrorContaining([&] { Model::Load(header); }, { header, "truncated" });
}

TEST_F(FocusNetModelFile, CorruptWeightsAreRejected)
{
  std::string bytes = m_Bytes;
  bytes[bytes.size() - 100] = static_cast<char>(bytes[bytes.size() - 100] ^ 0x5A);
  const std::string corrupt = Write("corrupt.fnm", bytes);
  ExpectErrorContaining([&] { Model::Load(corrupt); }, { corrupt, "checksum" });
  const std::string trailing = Write("trailing.fnm", m_Bytes + "extra");
  ExpectErrorContaining([&] { Model::Load(trailing); }, { trailing, "corrupt" });
}

TEST_F(FocusNetModelFile, CorruptHeaderIsRejected)
{
  std::string bytes = m_Bytes;
  bytes[21] = '#'; // inside the JSON header
  const std::string corrupt = Write("header.fnm", bytes);
  ExpectErrorContaining([&] { Model::Load(corrupt); }, { corrupt, "corrupt" });
}

TEST_F(FocusNetModelFile, JsonHeaderWithoutTheModelsKeysIsRejectedByName)
{
  // Valid JSON with a key missing or a value of the wrong type: the header length is rewritten to match, so only
  // the content is wrong.
  auto withHeaderEdit = [&](const std::string & name, const std::string & from, const std::string & to)
  {
    std::uint64_t length = 0;
    std::memcpy(&length, m_Bytes.data() + 12, sizeof(length)); // after the magic and the format version
    const std::string payload = m_Bytes.substr(20 + length);
    std::string       header = m_Bytes.substr(20, length);
    const auto        at = header.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    header.replace(at, from.size(), to);
    length = header.size();
    std::string bytes = m_Bytes.substr(0, 12);
    bytes.append(reinterpret_cast<const char *>(&length), sizeof(length));
    return Write(name, bytes + header + payload);
  };
  const std::string noTable = withHeaderEdit("no-table.fnm", "\"tensors\":", "\"weights\":");
  ExpectErrorContaining([&] { Model::Load(noTable); }, { noTable, "corrupt model file", "tensors" });
  const std::string textOffset = withHeaderEdit("text-offset.fnm", "\"offset\":0,", "\"offset\":\"zero\",");
  ExpectErrorContaining([&] { Model::Load(textOffset); }, { textOffset, "corrupt model file" });
}

TEST_F(FocusNetModelFile, ForeignFileIsRejected)
{
  const std::string tiff = focusnet::testing::BundledLungSlice();
  ExpectErrorContaining([&] { Model::Load(tiff); }, { tiff, "not a FocusNet model file" });
  const std::string empty = Write("empty.fnm", "");
  ExpectErrorContaining([&] { Model::Load(empty); }, { empty, "not a FocusNet model file" });
}

TEST_F(FocusNetModelFile, NewerFormatIsRejected)
{
  std::string bytes = m_Bytes;
  bytes[8] = 2; // format version, little-endian
  const std::string newer = Write("newer.fnm", bytes);
  ExpectErrorContaining([&] { Model::Load(newer); }, { newer, "newer", "update FocusNet" });
}

TEST_F(FocusNetModelFile, MissingFileIsRejected)
{
  const std::string missing = m_Directory / "missing.fnm";
  ExpectErrorContaining([&] { Model::Load(missing); }, { missing, "cannot open" });
}

TEST_F(FocusNetModelFile, FailedSaveLeavesNothing)
{
  const std::string target = m_Directory / "no-such-folder/model.fnm";
  ExpectErrorContaining([&] { Model::Create(SmallModelMetadata()).Save(target); }, { "does not exist" });
  EXPECT_FALSE(std::filesystem::exists(target));
}

TEST(FocusNetMetadata, InvalidOptionsAreRejected)
{
  auto expectInvalid = [](void (*change)(ModelMetadata &), const std::string & fragment)
  {
    ModelMetadata metadata;
    change(metadata);
    ExpectErrorContaining([&] { Validate(metadata); }, { fragment });
    ExpectErrorContaining([&] { Model::Create(metadata); }, { fragment });
  };
  expectInvalid([](ModelMetadata & m) { m.inputSize = 250; }, "multiple of 16");
  expectInvalid([](ModelMetadata & m) { m.architecture.inputChannels = 2; }, "input channels");
  expectInvalid([](ModelMetadata & m) { m.architecture.name = "resnet"; }, "resnet");
  expectInvalid([](ModelMetadata & m) { m.architecture.width = 0; }, "width");
  expectInvalid([](ModelMetadata & m) { m.architecture.minimumChannels = 0; }, "minimum channels");
  expectInvalid([](ModelMetadata & m) { m.threshold = 1.5; }, "threshold");
  expectInvalid([](ModelMetadata & m) { m.normalization.standardDeviation = { 0.0 }; }, "std");
  expectInvalid([](ModelMetadata & m) { m.label.value = 0; }, "label value");
}

TEST_F(FocusNetModelFile, AFlippedLetterInTheMetadataIsCaughtByItsChecksum)
{
  // "attention_stem_width" has a default: without the checksum, a damaged key would load as the default silently.
  std::string bytes = m_Bytes;
  const auto  at = bytes.find("\"attention_stem_width\"");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] ^= 0x01;
  ExpectErrorContaining([&] { Model::Load(Write("flipped.fnm", bytes)); }, { "flipped.fnm", "metadata checksum" });
}

TEST(FocusNetMetadata, JsonRoundTrip)
{
  ModelMetadata metadata;
  metadata.normalization.kind = Normalization::Kind::Window;
  metadata.normalization.windowCenter = -500;
  metadata.normalization.windowWidth = 1500;
  metadata.provenanceJson = R"({"validation":{"dice":0.98}})";
  const ModelMetadata parsed = ModelMetadataFromJson(ToJson(metadata));
  EXPECT_EQ(parsed.normalization.kind, Normalization::Kind::Window);
  EXPECT_EQ(parsed.normalization.windowCenter, -500);
  EXPECT_EQ(parsed.normalization.windowWidth, 1500);
  EXPECT_EQ(ToJson(parsed), ToJson(metadata));
  ExpectErrorContaining([] { ModelMetadataFromJson("{\"architecture\": 3}"); }, { "invalid model metadata" });

  // Model files written before the channel floor existed have no such key: they mean no floor.
  metadata.architecture.minimumChannels = 8;
  std::string text = ToJson(metadata);
  EXPECT_EQ(ModelMetadataFromJson(text).architecture.minimumChannels, 8);
  const std::string key = "\"minimum_channels\":8,";
  ASSERT_NE(text.find(key), std::string::npos);
  text.erase(text.find(key), key.size());
  EXPECT_EQ(ModelMetadataFromJson(text).architecture.minimumChannels, 1);
}

TEST(FocusNetAtomicFile, AnExistingOutputIsRefusedInTheLibrarysOwnWords)
{
  // The library says what is wrong and what would get past it; the front door names its own flag for that.
  ScratchDirectory  directory;
  const std::string output = directory / "out.nrrd";
  std::ofstream(output) << "precious";
  try
  {
    CheckOutputFile(output, false);
    ADD_FAILURE() << "an existing output was accepted";
  }
  catch (const Error & e)
  {
    EXPECT_NE(std::string(e.what()).find(output), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << e.what();
    EXPECT_EQ(e.GetRemedy(), Error::Remedy::AllowOverwrite);
  }
  EXPECT_NO_THROW(CheckOutputFile(output, true));
}

TEST(FocusNetAtomicFile, ExtensionsIncludeCompressedOnes)
{
  EXPECT_EQ(FullExtension("a/b/label.nii.gz"), ".nii.gz");
  EXPECT_EQ(FullExtension("study.v2.nrrd"), ".nrrd");
  EXPECT_EQ(FullExtension("noextension"), "");
  EXPECT_EQ(FullExtension(".hidden"), "");
}

TEST(FocusNetAtomicFile, FailureKeepsTheOldFileAndLeavesNoTemporary)
{
  ScratchDirectory  directory;
  const std::string target = directory / "out.nii.gz";
  WriteBytes(target, "old");
  std::string seen;
  EXPECT_THROW(WriteAtomically(target,
                               [&](const std::string & temporary)
                               {
                                 seen = temporary;
                                 WriteBytes(temporary, "half");
                                 throw Error("disk full");
                               }),
               Error);
  EXPECT_EQ(FullExtension(seen), ".nii.gz"); // ITK picks the ImageIO by extension
  EXPECT_EQ(ReadBytes(target), "old");
  EXPECT_EQ(directory.Files(), std::vector<std::string>{ "out.nii.gz" });

  WriteAtomically(target, [](const std::string & temporary) { WriteBytes(temporary, "new"); });
  EXPECT_EQ(ReadBytes(target), "new");
  EXPECT_EQ(directory.Files(), std::vector<std::string>{ "out.nii.gz" });
}

} // namespace

TEST(FocusNetMetadata, TheCleanUpRecipeIsReadBackAndCheckedByName)
{
  ModelMetadata metadata;
  EXPECT_EQ(ToJson(metadata).find("clean_up"), std::string::npos); // off: not written, as in files made before it
  metadata.cleanUp = { 2, true };
  const std::string text = ToJson(metadata);
  ASSERT_NE(text.find(R"("clean_up":{"fill_holes":true,"keep_components":2})"), std::string::npos) << text;
  const ModelMetadata parsed = ModelMetadataFromJson(text);
  EXPECT_EQ(parsed.cleanUp.keepComponents, 2U);
  EXPECT_TRUE(parsed.cleanUp.fillHoles);
  auto with = [&text](const std::string & recipe)
  {
    std::string       changed = text;
    const std::string key = R"("clean_up":{"fill_holes":true,"keep_components":2})";
    changed.replace(changed.find(key), key.size(), "\"clean_up\":" + recipe);
    return changed;
  };
  ExpectErrorContaining([&] { ModelMetadataFromJson(with(R"({"fill_holes":true,"keep_components":1001})")); },
                        { "keep_components must be at most 1000, not 1001" });
  ExpectErrorContaining([&] { ModelMetadataFromJson(with(R"({"fill_holes":true,"keep_components":-1})")); },
                        { "clean_up keep_components" });
  ExpectErrorContaining([&] { ModelMetadataFromJson(with(R"({"fill_holes":"yes","keep_components":2})")); },
                        { "clean_up fill_holes must be true or false, not \"yes\"" });
  ExpectErrorContaining([&] { ModelMetadataFromJson(with("5")); }, { "clean_up is not an object (5)" });
}

TEST(FocusNetMetadata, TheNewerQualityLimitsAreOptionalAndChecked)
{
  ModelMetadata metadata;
  metadata.quality.present = true;
  metadata.quality.modality = "CT";
  // Without them (as in files made before them) none is written, and none is read back: infinite, judging nothing.
  std::string text = ToJson(metadata);
  for (const char * key : { "input_noise", "flip_disagreement", "input_aspect" })
  {
    EXPECT_EQ(text.find(key), std::string::npos) << key;
  }
  ModelMetadata parsed = ModelMetadataFromJson(text);
  EXPECT_TRUE(std::isinf(parsed.quality.inputNoiseLimit));
  EXPECT_TRUE(std::isinf(parsed.quality.flipDisagreementLimit));
  EXPECT_TRUE(std::isinf(parsed.quality.aspectHigh));

  metadata.quality.inputNoiseLimit = 245.5;
  metadata.quality.flipDisagreementLimit = 0.07;
  metadata.quality.aspectLow = 0.5;
  metadata.quality.aspectHigh = 1.125;
  text = ToJson(metadata);
  ASSERT_NE(text.find(R"("input_aspect":[0.5,1.125])"), std::string::npos) << text;
  parsed = ModelMetadataFromJson(text);
  EXPECT_EQ(parsed.quality.inputNoiseLimit, 245.5);
  EXPECT_EQ(parsed.quality.flipDisagreementLimit, 0.07);
  EXPECT_EQ(parsed.quality.aspectLow, 0.5);
  EXPECT_EQ(parsed.quality.aspectHigh, 1.125);
  EXPECT_EQ(ToJson(parsed), text);

  auto replaced = [&text](const std::string & from, const std::string & to)
  {
    std::string changed = text;
    changed.replace(changed.find(from), from.size(), to);
    return changed;
  };
  ExpectErrorContaining([&] { ModelMetadataFromJson(replaced("[0.5,1.125]", "[1.5,1.125]")); },
                        { "quality input aspect must be a range" });
  ExpectErrorContaining([&] { ModelMetadataFromJson(replaced("[0.5,1.125]", "[0.5]")); },
                        { "input_aspect must be a range of 2 values" });
  ExpectErrorContaining([&] { ModelMetadataFromJson(replaced("\"input_noise\":245.5", "\"input_noise\":-1")); },
                        { "input_noise must be at least 0 and flip_disagreement 0 to 1" });
  ExpectErrorContaining([&]
                        { ModelMetadataFromJson(replaced("\"flip_disagreement\":0.07", "\"flip_disagreement\":1.5")); },
                        { "input_noise must be at least 0 and flip_disagreement 0 to 1" });
}
