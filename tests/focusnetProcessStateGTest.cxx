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

TEST(FocusNetProcessState, TheEngineGivesTheCallersThreadCountBack)
{
  at::set_num_threads(1);
  focusnet::InferenceOptions options;
  options.device = "cpu";
  options.threads = 2;
  const focusnet::InferenceEngine engine(focusnet::Model::Create(SmallModelMetadata(), 3), options);
  EXPECT_EQ(at::get_num_threads(), 1);
  const std::vector<float> slices(2 * 16 * 16, 100.0F);
  std::vector<float>       probabilities(slices.size());
  engine.Predict(slices.data(), 2, 16, 16, 1, probabilities.data());
  EXPECT_EQ(at::get_num_threads(), 1);
}

TEST(FocusNetProcessState, AThreadCountScopeHoldsTheEnginesCountUntilItEnds)
{
  at::set_num_threads(1);
  focusnet::InferenceOptions options;
  options.device = "cpu";
  options.threads = 2;
  const focusnet::InferenceEngine engine(focusnet::Model::Create(SmallModelMetadata(), 3), options);
  const std::vector<float>        slices(2 * 16 * 16, 100.0F);
  std::vector<float>              probabilities(slices.size());
  std::vector<float>              outside(slices.size());
  engine.Predict(slices.data(), 2, 16, 16, 1, outside.data());
  {
    const focusnet::InferenceEngine::ThreadCountScope threads(engine);
    EXPECT_EQ(at::get_num_threads(), 2);
    engine.Predict(slices.data(), 2, 16, 16, 1, probabilities.data());
    EXPECT_EQ(at::get_num_threads(), 2); // not given back between calls
  }
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(probabilities, outside);
}

} // namespace
