/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Short real training runs on a handful of lung CT pairs: learning, resuming, the log, evaluation.

#include "focusnetEvaluation.h"
#include "focusnetModel.h"
#include "focusnetTestUtilities.h"
#include "focusnetTrainer.h"

#include <algorithm>
#include <fstream>
#include <functional>

namespace
{
using namespace focusnet;
using focusnet::testing::ExpectErrorContaining;
using focusnet::testing::ScratchDirectory;
using focusnet::testing::SharedData;

std::vector<ImagePair>
LungPairs(size_t count)
{
  auto pairs = FindImagePairs(SharedData("kaggle_lung_ct_2d/images"), SharedData("kaggle_lung_ct_2d/masks"));
  pairs.resize(count);
  return pairs;
}

/** A small, fast configuration: FocusNet at width 0.125 on 64 x 64, one thread (deterministic). */
TrainingOptions
SmallRun(const std::string & output, int epochs)
{
  TrainingOptions options;
  options.training = LungPairs(10);
  options.validationFraction = 0.2;
  options.outputDirectory = output;
  options.model.architecture.width = 0.125;
  options.model.inputSize = 64;
  options.epochs = epochs;
  options.batchSize = 4;
  options.learningRate = 3e-3;
  options.device = "cpu";
  options.threads = 1;
  options.seed = 5;
  return options;
}

TEST(FocusNetTrainingRealData, LossFallsAndValidationDiceRises)
{
  ScratchDirectory directory;
  TrainingOptions  options = SmallRun(directory / "run", 8);
  options.epochSize = 24;
  const auto records = Train(options);
  ASSERT_EQ(records.size(), 8U);
  EXPECT_LT(records.back().trainLoss, 0.6 * records.front().trainLoss);
  const auto best =
    std::max_element(records.begin(), records.end(), [](const auto & a, const auto & b) { return a.dice < b.dice; });
  // Batch norm's running statistics (Keras momentum 0.99) lag in so short a run: a clear rise, not a high Dice.
  EXPECT_GT(best->dice, records.front().dice + 0.05);

  // The best model carries the normalisation computed from the training images and its provenance.
  const TrainingFiles files(directory / "run");
  const Model         model = Model::Load(files.model);
  EXPECT_LT(model.Metadata().normalization.mean.at(0), -200.0); // CT in HU: mostly air and soft tissue
  EXPECT_GT(model.Metadata().normalization.standardDeviation.at(0), 100.0);
  EXPECT_NE(model.Metadata().provenanceJson.find("\"training_images\":8"), std::string::npos)
    << model.Metadata().provenanceJson;
  EXPECT_EQ(ReadTrainingLog(files.log).size(), 8U);
  std::ifstream svg(files.learningCurve);
  std::string   firstLine;
  std::getline(svg, firstLine);
  EXPECT_NE(firstLine.find("<svg"), std::string::npos);

  // evaluate on the validation list at the original 512 x 512 agrees with metrics computed here.
  const auto validation = ReadImagePairList(files.validationList);
  ASSERT_EQ(validation.size(), 2U);
  InferenceOptions inference;
  inference.device = "cpu";
  inference.threads = 1;
  const EvaluationReport report = Evaluate(model, validation, inference);
  ConfusionCounts        pooled;
  InferenceEngine        engine(model, inference);
  for (const ImagePair & pair : validation)
  {
    const ImageSlice   slice = ReadImagePair(pair);
    std::vector<float> p(slice.mask.size());
    engine.Predict(slice.pixels.data(), 1, slice.height, slice.width, 1, p.data());
    std::vector<std::uint8_t> predicted(p.size());
    std::transform(p.begin(), p.end(), predicted.begin(), [](float v) { return v >= 0.5F ? 1 : 0; });
    pooled += ConfusionCounts::Count(slice.mask.data(), predicted.data(), predicted.size());
  }
  EXPECT_EQ(report.pooled.truePositives, pooled.truePositives);
  EXPECT_EQ(report.pooled.falsePositives, pooled.falsePositives);
  EXPECT_EQ(report.pooled.Total(), 2U * 512U * 512U);
  EXPECT_NE(report.Markdown().find("pooled over all pixels"), std::string::npos);
}

TEST(FocusNetTrainingRealData, ResumeContinuesExactlyWhereTheRunStopped)
{
  ScratchDirectory directory;
  const auto       straight = Train(SmallRun(directory / "straight", 3));

  Train(SmallRun(directory / "interrupted", 2));
  TrainingOptions resumed = SmallRun(directory / "interrupted", 3);
  resumed.resume = true;
  const auto continued = Train(resumed);

  ASSERT_EQ(continued.size(), 3U);
  for (size_t i = 0; i < 2; ++i) // read back from log.csv
  {
    EXPECT_EQ(continued[i].epoch, straight[i].epoch);
    EXPECT_NEAR(continued[i].trainLoss, straight[i].trainLoss, 1e-8);
    EXPECT_NEAR(continued[i].validationLoss, straight[i].validationLoss, 1e-8);
  }
  // Epoch 3 ran after the resume: same model, optimizer moments, learning rate and random stream, same numbers.
  EXPECT_EQ(continued[2].epoch, 3);
  EXPECT_DOUBLE_EQ(continued[2].trainLoss, straight[2].trainLoss);
  EXPECT_DOUBLE_EQ(continued[2].validationLoss, straight[2].validationLoss);
  EXPECT_EQ(Model::Load(TrainingFiles(directory / "interrupted").model).WeightsChecksum(),
            Model::Load(TrainingFiles(directory / "straight").model).WeightsChecksum());
}

TEST(FocusNetTrainingRealData, InitModelIsFineTunedAtAnotherInputSize)
{
  ScratchDirectory directory;
  TrainingOptions  firstOptions = SmallRun(directory / "first", 1);
  firstOptions.flipUpDown = false;
  Train(firstOptions);
  const Model first = Model::Load(TrainingFiles(directory / "first").model);
  // The flips a run trained on are what flip test-time augmentation reads back from its model file.
  EXPECT_TRUE(TrainedFlips(first.Metadata()).leftRight);
  EXPECT_FALSE(TrainedFlips(first.Metadata()).upDown);

  TrainingOptions larger = SmallRun(directory / "larger", 1);
  larger.initModel = TrainingFiles(directory / "first").model;
  larger.initInputSize = 96;
  const auto records = Train(larger);
  ASSERT_EQ(records.size(), 1U);
  const Model tuned = Model::Load(TrainingFiles(directory / "larger").model);
  EXPECT_EQ(tuned.Metadata().inputSize, 96);
  EXPECT_TRUE(TrainedFlips(tuned.Metadata()).upDown); // this run's own augmentation, not the init model's
  EXPECT_EQ(first.Metadata().inputSize, 64);
  // The same network and normalisation, trained on: only the input size and the weights differ.
  EXPECT_EQ(tuned.ParameterCount(), first.ParameterCount());
  EXPECT_EQ(tuned.Metadata().normalization.mean, first.Metadata().normalization.mean);
  EXPECT_NE(tuned.WeightsChecksum(), first.WeightsChecksum());

  TrainingOptions invalid = SmallRun(directory / "invalid", 1);
  invalid.initModel = larger.initModel;
  invalid.initInputSize = 90;
  ExpectErrorContaining([&] { Train(invalid); }, { "multiple of 16" });
  EXPECT_FALSE(std::filesystem::exists(directory / "invalid")); // refused before anything was written
}

TEST(FocusNetTrainingRealData, RefusesToOverwriteARunAndToResumeNothing)
{
  ScratchDirectory directory;
  Train(SmallRun(directory / "run", 1));
  ExpectErrorContaining([&] { Train(SmallRun(directory / "run", 1)); },
                        { "checkpoint.pt", "a training run is already here" });
  TrainingOptions nothing = SmallRun(directory / "empty", 1);
  nothing.resume = true;
  ExpectErrorContaining([&] { Train(nothing); }, { "nothing to resume" });
}

TEST(FocusNetTrainingRealData, OptionsOutOfRangeAreRefusedInTheLibrarysWordsBeforeAnyOutput)
{
  // The words of every other front door (tests/bad_inputs), written out here.
  ScratchDirectory                                                                  directory;
  const std::vector<std::pair<std::function<void(TrainingOptions &)>, std::string>> cases = {
    { [](TrainingOptions & o) { o.threads = -1; }, "threads must lie in [0, 256], not -1" },
    { [](TrainingOptions & o) { o.threads = 257; }, "threads must lie in [0, 256], not 257" },
    { [](TrainingOptions & o) { o.epochs = 0; }, "epochs must lie in [1, 100000], not 0" },
    { [](TrainingOptions & o) { o.batchSize = 0; }, "batch size must lie in [1, 256], not 0" },
    { [](TrainingOptions & o) { o.epochSize = -1; }, "epoch size must lie in [0, 10000000], not -1" },
    { [](TrainingOptions & o) { o.learningRate = 0; }, "learning rate must lie strictly between 0 and 1, not 0" },
    { [](TrainingOptions & o) { o.momentum = 1; }, "momentum must lie in [0, 0.999], not 1" },
    { [](TrainingOptions & o) { o.plateau.factor = 1; }, "plateau factor must lie strictly between 0 and 1, not 1" },
    { [](TrainingOptions & o) { o.plateau.patience = -1; }, "plateau patience must lie in [0, 1000], not -1" },
    { [](TrainingOptions & o) { o.plateau.threshold = 2; }, "plateau threshold must lie in [0, 1], not 2" },
    { [](TrainingOptions & o) { o.plateau.stopPatience = -1; }, "early stopping must lie in [0, 10000], not -1" },
    { [](TrainingOptions & o) { o.zoom = -0.1; }, "zoom must lie in [0, 0.9], not -0.1" },
    { [](TrainingOptions & o) { o.channelShift = 2; }, "channel shift must lie in [0, 1], not 2" },
    { [](TrainingOptions & o) { o.validationFraction = 0; }, "validation fraction must lie in [0.01, 0.99], not 0" },
    { [](TrainingOptions & o) { o.optimizer = "rmsprop"; }, "optimizer must be adam or sgd, not 'rmsprop'" },
    // A device by its name that no machine has.
    { [](TrainingOptions & o) { o.device = "cuda:9999"; }, "device 'cuda:9999' requested but " },
  };
  for (const auto & [change, words] : cases)
  {
    TrainingOptions options = SmallRun(directory / "run", 1);
    change(options);
    ExpectErrorContaining([&] { Train(options); }, { words });
    EXPECT_FALSE(std::filesystem::exists(directory / "run")) << words;
  }
}

TEST(FocusNetTrainingRealData, PairsAreFoundByName)
{
  const auto lung = LungPairs(3);
  EXPECT_EQ(lung[0].name, "ID_0000_Z_0142");
  EXPECT_NE(lung[0].mask.find("masks/ID_0000_Z_0142.tif"), std::string::npos);
  // ISIC masks are named <image>_segmentation.png.
  const auto skin = FindImagePairs(SharedData("isic2017_sample/images"), SharedData("isic2017_sample/masks"));
  ASSERT_EQ(skin.size(), 20U);
  EXPECT_NE(skin[0].mask.find(skin[0].name + "_segmentation.png"), std::string::npos);
  const ImageSlice slice = ReadImagePair(skin[0]);
  EXPECT_EQ(slice.channels, 3);
  EXPECT_TRUE(std::all_of(slice.mask.begin(), slice.mask.end(), [](std::uint8_t v) { return v <= 1; }));
  ExpectErrorContaining(
    [] { FindImagePairs(SharedData("isic2017_sample/images"), SharedData("kaggle_lung_ct_2d/masks")); },
    { "no mask of the same name" });
}

} // namespace
