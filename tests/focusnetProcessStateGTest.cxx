/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// A program that embeds FocusNet keeps its own LibTorch settings: the thread count and the global random stream.

#include "focusnetInferenceEngine.h"
#include "focusnetModel.h"
#include "focusnetTestUtilities.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <cstring>
#include <mutex>
#include <vector>

namespace
{
using focusnet::testing::SmallModelMetadata;

std::vector<std::uint8_t>
GlobalGeneratorState()
{
  at::Generator               generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  const at::Tensor            state = generator.get_state();
  const auto *                bytes = static_cast<const std::uint8_t *>(state.data_ptr());
  return { bytes, bytes + state.nbytes() };
}

TEST(FocusNetProcessState, CreatingAModelLeavesTheGlobalRandomStreamAlone)
{
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  generator.set_current_seed(1234);
  const auto before = GlobalGeneratorState();
  const auto model = focusnet::Model::Create(SmallModelMetadata(), 99);
  EXPECT_EQ(GlobalGeneratorState(), before);
  // And the seed still decides the weights, whatever the global stream was.
  generator.set_current_seed(5);
  EXPECT_EQ(focusnet::Model::Create(SmallModelMetadata(), 99).WeightsChecksum(), model.WeightsChecksum());
}

/** Options for an engine of 2 threads, in a process whose own LibTorch count is 1. */
focusnet::InferenceOptions
TwoThreadsWhereTheCallerHasOne()
{
  at::set_num_threads(1);
  focusnet::InferenceOptions options;
  options.device = "cpu";
  options.threads = 2;
  return options;
}

/** The engine's probabilities for two 16 x 16 slices of 100. */
std::vector<float>
PredictTwoSlices(const focusnet::InferenceEngine & engine)
{
  const std::vector<float> slices(2 * 16 * 16, 100.0F);
  std::vector<float>       probabilities(slices.size());
  engine.Predict(slices.data(), 2, 16, 16, 1, probabilities.data());
  return probabilities;
}

TEST(FocusNetProcessState, TheEngineGivesTheCallersThreadCountBack)
{
  const focusnet::InferenceEngine engine(focusnet::Model::Create(SmallModelMetadata(), 3),
                                         TwoThreadsWhereTheCallerHasOne());
  EXPECT_EQ(at::get_num_threads(), 1);
  PredictTwoSlices(engine);
  EXPECT_EQ(at::get_num_threads(), 1);
}

TEST(FocusNetProcessState, AThreadCountScopeHoldsTheEnginesCountUntilItEnds)
{
  const focusnet::InferenceEngine engine(focusnet::Model::Create(SmallModelMetadata(), 3),
                                         TwoThreadsWhereTheCallerHasOne());
  const std::vector<float>        outside = PredictTwoSlices(engine);
  std::vector<float>              inside;
  {
    const focusnet::InferenceEngine::ThreadCountScope threads(engine);
    EXPECT_EQ(at::get_num_threads(), 2);
    inside = PredictTwoSlices(engine);
    EXPECT_EQ(at::get_num_threads(), 2); // not given back between calls
  }
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(inside, outside);
}

} // namespace
