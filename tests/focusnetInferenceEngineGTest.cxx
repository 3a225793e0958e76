/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The slice inference engine on plain buffers: batching, resizing, flips, normalisation, devices.

#include "focusnetInferenceEngine.h"
#include "focusnetModel.h"
#include "focusnetModelImpl.h"
#include "focusnetTestUtilities.h"

#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

namespace
{
using namespace focusnet;
using focusnet::testing::ExpectErrorContaining;
using focusnet::testing::RandomValues;
using focusnet::testing::SmallModelMetadata;

InferenceOptions
Cpu(int batchSize = 8, bool flips = false)
{
  InferenceOptions options;
  options.device = "cpu";
  options.threads = 2;
  options.batchSize = batchSize;
  options.flipAugmentation = flips;
  return options;
}

std::vector<float>
PredictAll(const InferenceEngine &    engine,
           const std::vector<float> & slices,
           int64_t                    count,
           int64_t                    height,
           int64_t                    width)
{
  std::vector<float> p(static_cast<size_t>(count * height * width), -1.0F);
  engine.Predict(slices.data(), count, height, width, engine.Metadata().architecture.inputChannels, p.data());
  return p;
}

/** Mirrors every height x width slice of a count x height x width buffer left-right or up-down. */
std::vector<float>
Flip(const std::vector<float> & values, int64_t count, int64_t height, int64_t width, bool leftRight)
{
  std::vector<float> flipped(values.size());
  for (int64_t n = 0; n < count; ++n)
  {
    for (int64_t y = 0; y < height; ++y)
    {
      for (int64_t x = 0; x < width; ++x)
      {
        const int64_t fy = leftRight ? y : height - 1 - y;
        const int64_t fx = leftRight ? width - 1 - x : x;
        flipped[static_cast<size_t>((n * height + y) * width + x)] =
          values[static_cast<size_t>((n * height + fy) * width + fx)];
      }
    }
  }
  return flipped;
}

double
Logit(float p)
{
  return std::log(static_cast<double>(p) / (1.0 - static_cast<double>(p)));
}

float
Sigmoid(double z)
{
  return static_cast<float>(1.0 / (1.0 + std::exp(-z)));
}

/** PyTorch's bilinear 2x upsampling (align_corners false) of one size x size map, written out. */
std::vector<double>
UpsampleTwice(const std::vector<double> & values, int64_t size)
{
  auto source = [size](int64_t out, int64_t & low, int64_t & high)
  {
    const double position = std::max(0.0, (static_cast<double>(out) + 0.5) / 2.0 - 0.5);
    low = static_cast<int64_t>(position);
    high = std::min(low + 1, size - 1);
    return position - static_cast<double>(low);
  };
  std::vector<double> up(static_cast<size_t>(4 * size * size));
  for (int64_t y = 0; y < 2 * size; ++y)
  {
    int64_t      y0 = 0, y1 = 0;
    const double fy = source(y, y0, y1);
    for (int64_t x = 0; x < 2 * size; ++x)
    {
      int64_t      x0 = 0, x1 = 0;
      const double fx = source(x, x0, x1);
      auto         at = [&](int64_t row, int64_t column) { return values[static_cast<size_t>(row * size + column)]; };
      up[static_cast<size_t>(y * 2 * size + x)] =
        (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
    }
  }
  return up;
}

float
MaxDifference(const std::vector<float> & a, const std::vector<float> & b)
{
  float worst = 0.0F;
  for (size_t i = 0; i < a.size(); ++i)
  {
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  return worst;
}

void
ExpectNear(const std::vector<float> & a, const std::vector<float> & b, float tolerance)
{
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LE(MaxDifference(a, b), tolerance);
}

TEST(FocusNetInferenceEngine, BatchesGiveTheSameResultAsOneByOne)
{
  const Model       model = Model::Create(SmallModelMetadata(), 3);
  constexpr int64_t count = 5, height = 48, width = 40;
  const auto        slices = RandomValues(count * height * width, 2);
  const auto        batched = PredictAll(InferenceEngine(model, Cpu(4)), slices, count, height, width);
  const auto        single = PredictAll(InferenceEngine(model, Cpu(1)), slices, count, height, width);
  ExpectNear(batched, single, 1e-4F); // BLAS may sum in another order for another batch size
  // Probabilities at the slice's own size, every one filled in.
  EXPECT_TRUE(std::all_of(batched.begin(), batched.end(), [](float p) { return p >= 0.0F && p <= 1.0F; }));
  // Different slices give different maps: the engine does not repeat one slice.
  EXPECT_NE(std::vector<float>(batched.begin(), batched.begin() + height * width),
            std::vector<float>(batched.begin() + height * width, batched.begin() + 2 * height * width));
}

TEST(FocusNetInferenceEngine, PredictStreamAsksAndGivesBatchByBatchInOrder)
{
  const Model                              model = Model::Create(SmallModelMetadata(), 3);
  const InferenceEngine                    engine(model, Cpu(2));
  constexpr int64_t                        count = 5, height = 32, width = 32, values = height * width;
  const auto                               slices = RandomValues(count * values, 4);
  std::vector<std::pair<int64_t, int64_t>> asked, given;
  std::vector<float>                       streamed(static_cast<size_t>(count * values), -1.0F);
  engine.PredictStream(
    count,
    height,
    width,
    1,
    [&](int64_t first, int64_t n, float * batch)
    {
      asked.emplace_back(first, n);
      std::copy_n(slices.begin() + first * values, n * values, batch);
    },
    [&](int64_t first, int64_t n, const float * p, const FlipAgreement * agreement)
    {
      given.emplace_back(first, n);
      std::copy_n(p, n * values, streamed.begin() + first * values);
      EXPECT_EQ(agreement, nullptr); // no flips
    });
  const std::vector<std::pair<int64_t, int64_t>> batches{ { 0, 2 }, { 2, 2 }, { 4, 1 } };
  EXPECT_EQ(asked, batches);
  EXPECT_EQ(given, batches);
  EXPECT_EQ(streamed, PredictAll(engine, slices, count, height, width));
}

TEST(FocusNetInferenceEngine, FlipAgreementIsThatOfPlainRunsOfTheMirrorImages)
{
  // Slices of the network's input size, so that no resizing stands between a flipped slice and a flipped copy: each
  // copy's label is exactly the plain run's label of the mirror image, mirrored back. A model file that does not say
  // what it was trained on means both flips: three copies.
  const Model       model = Model::Create(SmallModelMetadata(), 7);
  constexpr int64_t count = 3, size = 32, values = size * size;
  const auto        slices = RandomValues(count * values, 8);
  InferenceOptions  options = Cpu(2);
  const auto        plain = PredictAll(InferenceEngine(model, options), slices, count, size, size);
  // The plain run's probabilities of a slice's mirror image, mirrored back.
  auto mirrorRun = [&](bool leftRight)
  {
    const auto mirror = Flip(slices, count, size, size, leftRight);
    return Flip(PredictAll(InferenceEngine(model, options), mirror, count, size, size), count, size, size, leftRight);
  };
  const auto leftRight = mirrorRun(true);
  const auto upDown = mirrorRun(false);

  options.flipAugmentation = true;
  std::vector<float>         p(static_cast<size_t>(count * values));
  std::vector<FlipAgreement> agreement(count);
  InferenceEngine(model, options).Predict(slices.data(), count, size, size, 1, p.data(), agreement.data());
  int64_t disagreeing = 0;
  for (int64_t z = 0; z < count; ++z)
  {
    int64_t any = 0, all = 0;
    for (int64_t y = 0; y < size; ++y)
    {
      for (int64_t x = 0; x < size; ++x)
      {
        const int64_t i = z * values + y * size + x;
        const bool    labels[] = { plain[i] >= 0.5F, leftRight[i] >= 0.5F, upDown[i] >= 0.5F };
        any += labels[0] || labels[1] || labels[2];
        all += labels[0] && labels[1] && labels[2];
      }
    }
    EXPECT_TRUE(agreement[z].measured);
    EXPECT_EQ(agreement[z].labelledByAny, any) << z;
    EXPECT_EQ(agreement[z].labelledByAll, all) << z;
    disagreeing += any - all;
  }
  EXPECT_GT(disagreeing, 0); // a random network's copies disagree: the counts are tested where they differ

  // Without flips, nothing is measured and the counts are cleared.
  options.flipAugmentation = false;
  InferenceEngine(model, options).Predict(slices.data(), count, size, size, 1, p.data(), agreement.data());
  for (const FlipAgreement & a : agreement)
  {
    EXPECT_FALSE(a.measured);
    EXPECT_EQ(a.labelledByAny, 0);
  }
}

TEST(FocusNetInferenceEngine, FlipAugmentationCountsEachSlicesAgreementAtItsThreshold)
{
  // A threshold next to 0 and one next to 1: every pixel is label in every copy of a small random network (its
  // logits stay far from +-13.8), and none in any.
  for (const double threshold : { 1e-6, 1.0 - 1e-6 })
  {
    ModelMetadata metadata = SmallModelMetadata();
    metadata.threshold = threshold;
    InferenceOptions options = Cpu(2);
    options.flipAugmentation = true;
    const InferenceEngine      engine(Model::Create(metadata, 3), options);
    constexpr int64_t          count = 3, height = 20, width = 28;
    const auto                 slices = RandomValues(count * height * width, 5);
    std::vector<float>         p(static_cast<size_t>(count * height * width));
    std::vector<FlipAgreement> agreement(count, FlipAgreement{ -1, -1 });
    engine.Predict(slices.data(), count, height, width, 1, p.data(), agreement.data());
    for (const FlipAgreement & a : agreement)
    {
      EXPECT_EQ(a.labelledByAny, threshold < 0.5 ? height * width : 0);
      EXPECT_EQ(a.labelledByAll, threshold < 0.5 ? height * width : 0);
    }
  }
}

TEST(FocusNetInferenceEngine, UnknownSpeedUpNamesAreRefused)
{
  ASSERT_EQ(::setenv("FOCUSNET_ENGINE_DISABLE", "fold,fusion", 1), 0);
  ExpectErrorContaining([] { InferenceEngine(Model::Create(SmallModelMetadata(), 3), Cpu()); },
                        { "FOCUSNET_ENGINE_DISABLE", "'fusion'" });
  ::unsetenv("FOCUSNET_ENGINE_DISABLE");
}

/** Sets every batch norm's statistics and affine terms of a network to random values, as training would leave them. */
void
RandomiseBatchNorms(torch::nn::Module & network)
{
  torch::NoGradGuard noGrad;
  torch::manual_seed(5);
  for (const auto & module : network.modules())
  {
    if (auto * norm = dynamic_cast<torch::nn::BatchNorm2dImpl *>(module.get()))
    {
      norm->running_mean.uniform_(-0.5, 0.5);
      norm->running_var.uniform_(0.3, 3.0);
      norm->weight.uniform_(0.5, 1.5);
      norm->bias.uniform_(-0.3, 0.3);
    }
  }
}

TEST(FocusNetInferenceEngine, FoldedBatchNormsComputeWhatTheNormsDid)
{
  for (const std::string architecture : { "focusnet", "unet" })
  {
    Model  model = Model::Create(SmallModelMetadata(1, architecture), 3);
    auto & network = *ModelInternals::Of(model).network;
    RandomiseBatchNorms(network);
    network.eval();
    const auto slices = RandomValues(3 * 32 * 32, 9);
    // The oracle: the network as trained, every batch norm a step of its own.
    const torch::Tensor x = (torch::tensor(slices).view({ 3, 1, 32, 32 }) - 100.0) / 50.0;
    torch::Tensor       expected;
    {
      torch::NoGradGuard noGrad;
      expected = torch::sigmoid(network.forward(x)).flatten();
    }
    const std::vector<float> folded = PredictAll(InferenceEngine(model, Cpu()), slices, 3, 32, 32);
    ExpectNear(
      folded, std::vector<float>(expected.data_ptr<float>(), expected.data_ptr<float>() + expected.numel()), 1e-4F);
    // The comparison can tell: the engine without folding agrees as well, and the norms' own statistics matter.
    ASSERT_EQ(::setenv("FOCUSNET_ENGINE_DISABLE", "fold", 1), 0);
    const std::vector<float> unfolded = PredictAll(InferenceEngine(model, Cpu()), slices, 3, 32, 32);
    ::unsetenv("FOCUSNET_ENGINE_DISABLE");
    ExpectNear(folded, unfolded, 1e-4F); // the same maths in another order of float operations
    Model plain = Model::Create(SmallModelMetadata(1, architecture), 3);
    EXPECT_GT(MaxDifference(folded, PredictAll(InferenceEngine(plain, Cpu()), slices, 3, 32, 32)), 1e-2F)
      << architecture;
  }
}

TEST(FocusNetInferenceEngine, LogitsAreResampledBeforeTheSigmoid)
{
  const InferenceEngine engine(Model::Create(SmallModelMetadata(), 14), Cpu());
  constexpr int64_t     size = 32; // the network size
  // A uniform slice stays uniform when shrunk, so the 64 x 64 slice gives the network the same input as the
  // 32 x 32 one. The output is not uniform: the zero padding at the borders reaches across the small network.
  const auto atNetworkSize = PredictAll(engine, std::vector<float>(size * size, 130.0F), 1, size, size);
  const auto upsampled = PredictAll(engine, std::vector<float>(4 * size * size, 130.0F), 1, 2 * size, 2 * size);
  std::vector<double> logits(atNetworkSize.size());
  std::transform(atNetworkSize.begin(), atNetworkSize.end(), logits.begin(), Logit);
  const auto         upsampledLogits = UpsampleTwice(logits, size);
  std::vector<float> expected(upsampled.size());
  std::transform(upsampledLogits.begin(), upsampledLogits.end(), expected.begin(), Sigmoid);
  const auto resampledProbabilities =
    UpsampleTwice(std::vector<double>(atNetworkSize.begin(), atNetworkSize.end()), size);
  ExpectNear(upsampled, expected, 1e-5F);
  // Resampling the probabilities instead gives measurably different maps for this model.
  EXPECT_GT(MaxDifference(upsampled, std::vector<float>(resampledProbabilities.begin(), resampledProbabilities.end())),
            1e-3F);
}

TEST(FocusNetInferenceEngine, FlipAugmentationAveragesTheFlipsTheModelWasTrainedOn)
{
  constexpr int64_t     count = 2, size = 32; // the network size: no resampling between flips
  const auto            slices = RandomValues(count * size * size, 5);
  const InferenceEngine plain(Model::Create(SmallModelMetadata(), 4), Cpu());
  const auto            identity = PredictAll(plain, slices, count, size, size);
  const auto            leftRight =
    Flip(PredictAll(plain, Flip(slices, count, size, size, true), count, size, size), count, size, size, true);
  const auto upDown =
    Flip(PredictAll(plain, Flip(slices, count, size, size, false), count, size, size), count, size, size, false);
  EXPECT_GT(MaxDifference(identity, leftRight), 1e-3F);
  EXPECT_GT(MaxDifference(identity, upDown), 1e-3F);

  // The same weights (same seed), with the training flips their provenance records.
  const std::vector<std::pair<std::string, std::vector<const std::vector<float> *>>> cases{
    { "{}", { &identity, &leftRight, &upDown } }, // a model that does not say: both
    { R"({"options": {"augmentation": {"flip_left_right": true, "flip_up_down": false}}})", { &identity, &leftRight } },
    { R"({"options": {"augmentation": {"flip_left_right": false, "flip_up_down": false}}})", { &identity } }
  };
  for (const auto & [provenance, maps] : cases)
  {
    SCOPED_TRACE(provenance);
    ModelMetadata metadata = SmallModelMetadata();
    metadata.provenanceJson = provenance;
    std::vector<float> expected(identity.size(), 0.0F);
    for (size_t i = 0; i < expected.size(); ++i)
    {
      for (const auto * map : maps)
      {
        expected[i] += (*map)[i] / static_cast<float>(maps.size());
      }
    }
    ExpectNear(PredictAll(InferenceEngine(Model::Create(metadata, 4), Cpu(8, true)), slices, count, size, size),
               expected,
               1e-5F);
  }
}

TEST(FocusNetInferenceEngine, ProvenanceThatDoesNotSayMeansBothFlips)
{
  ModelMetadata metadata = SmallModelMetadata();
  for (const char * provenance : { "not json", "[1, 2]", R"({"options": 3})", R"({"options": {"augmentation": {}}})" })
  {
    metadata.provenanceJson = provenance;
    EXPECT_TRUE(TrainedFlips(metadata).leftRight) << provenance;
    EXPECT_TRUE(TrainedFlips(metadata).upDown) << provenance;
  }
  metadata.provenanceJson = R"({"options": {"augmentation": {"flip_up_down": false}}})";
  EXPECT_TRUE(TrainedFlips(metadata).leftRight);
  EXPECT_FALSE(TrainedFlips(metadata).upDown);
}

TEST(FocusNetInferenceEngine, WindowNormalisationClampsIntensities)
{
  ModelMetadata metadata = SmallModelMetadata();
  metadata.normalization.kind = Normalization::Kind::Window;
  metadata.normalization.windowCenter = 40;
  metadata.normalization.windowWidth = 400;
  const InferenceEngine engine(Model::Create(metadata, 6), Cpu());
  const int64_t         pixels = 32 * 32;
  auto                  slices = RandomValues(2 * pixels, 8, -100.0F, 100.0F);
  // Slice 1 is slice 0 with the values above the window (> 240 HU) pushed further up: same input after clamping.
  std::copy(slices.begin(), slices.begin() + pixels, slices.begin() + pixels);
  for (int64_t i = 0; i < pixels; i += 3)
  {
    slices[i] = 500.0F;
    slices[pixels + i] = 3000.0F;
  }
  const auto p = PredictAll(engine, slices, 2, 32, 32);
  ExpectNear(std::vector<float>(p.begin(), p.begin() + pixels), std::vector<float>(p.begin() + pixels, p.end()), 1e-6F);
}

TEST(FocusNetInferenceEngine, RgbModelsTakeInterleavedChannels)
{
  const InferenceEngine engine(Model::Create(SmallModelMetadata(3), 9), Cpu());
  const auto            slices = RandomValues(3 * 20 * 36, 10);
  const auto            p = PredictAll(engine, slices, 1, 20, 36);
  EXPECT_EQ(p.size(), 20U * 36U);
  ExpectErrorContaining(
    [&]
    {
      std::vector<float> out(20 * 36);
      engine.Predict(slices.data(), 1, 20, 36, 1, out.data());
    },
    { "expects 3 channel" });
}

TEST(FocusNetInferenceEngine, DevicesAreCheckedUpFront)
{
  const Model      model = Model::Create(SmallModelMetadata());
  InferenceOptions options = Cpu();
  // An unknown name is no device: refused where the text becomes one, in the words of every front door.
  ExpectErrorContaining([&] { options.device = "gpu"; }, { "device must be auto, cpu, cuda or cuda:N, not 'gpu'" });
  options.device = "auto";
  EXPECT_EQ(InferenceEngine(model, options).DeviceName(), CudaAvailable() ? "cuda:0" : "cpu");
  if (!CudaAvailable())
  {
    options.device = "cuda:0";
    ExpectErrorContaining([&] { InferenceEngine(model, options); }, { "no CUDA device" });
  }
  options.device = "cpu";
  options.batchSize = 0;
  ExpectErrorContaining([&] { InferenceEngine(model, options); }, { "batch size" });
}

TEST(FocusNetInferenceEngine, Bf16RunsWhereTheCpuComputesItAndIsRefusedElsewhere)
{
  const Model       model = Model::Create(SmallModelMetadata(), 5);
  constexpr int64_t count = 3, height = 64, width = 64;
  const auto        slices = RandomValues(count * height * width, 8);
  InferenceOptions  bf16 = Cpu(2);
  bf16.precision = "bf16";
  // Whether this CPU has it, as the kernel reports it, independently of the engine's own check.
  std::ifstream     cpuinfo("/proc/cpuinfo");
  const std::string text((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
  const bool native = text.find(" avx512_bf16") != std::string::npos || text.find(" amx_bf16") != std::string::npos;
  EXPECT_EQ(NativeBFloat16(), native);
  if (native)
  {
    const auto reference = PredictAll(InferenceEngine(model, Cpu(2)), slices, count, height, width);
    const auto half = PredictAll(InferenceEngine(model, bf16), slices, count, height, width);
    ExpectNear(half, reference, 0.05F); // bfloat16 keeps 8 bits of mantissa
    EXPECT_NE(half, reference);         // and it is not fp32 under another name
  }
  else
  {
    ExpectErrorContaining([&] { InferenceEngine(model, bf16); }, { "AVX512-BF16 or AMX" });
  }
  bf16.precision = "fp16";
  ExpectErrorContaining([&] { InferenceEngine(model, bf16); }, { "fp16 precision runs on GPUs only" });
  ExpectErrorContaining([&] { bf16.precision = "fp8"; }, { "precision must be fp32, bf16 or fp16, not 'fp8'" });
}

TEST(FocusNetInferenceEngine, UNetRunsThroughTheSameEngine)
{
  const InferenceEngine engine(Model::Create(SmallModelMetadata(1, "unet"), 12), Cpu());
  const auto            p = PredictAll(engine, RandomValues(64 * 64, 13), 1, 64, 64);
  EXPECT_TRUE(std::all_of(p.begin(), p.end(), [](float v) { return v >= 0.0F && v <= 1.0F; }));
}

} // namespace
