/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/

// The inference engine alone: ms per slice of InferenceEngine::Predict on random slices in host memory (256 x 256,
// the network's size, unless SIZE says), probabilities back in host memory.
//
//   focusnet-engine-speed MODEL_FILE|WIDTH BATCH THREADS [REPEATS] [fp32|bf16|fp16] [DEVICE] [SIZE] [SLICES]
//
// Prints one line: "engine <ms per slice, median of REPEATS> <min> <max> <MACs per slice>". Each repeat predicts
// SLICES slices (default max(BATCH, 8); rounded down to whole batches) after one warm-up call of one batch.
// DEVICE: cpu (the default), cuda or cuda:N. SIZE: slices of SIZE x SIZE, resampled to the network's size and back.
// benchmarks/cpu-speed.py runs it beside the PyTorch anchor and prints the tables; benchmarks/gpu/run.sh on a GPU.

#include "focusnetInferenceEngine.h"
#include "focusnetModel.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

int
main(int argc, char * argv[])
{
  if (argc < 4)
  {
    std::fprintf(stderr,
                 "usage: %s MODEL_FILE|WIDTH BATCH THREADS [REPEATS] [fp32|bf16|fp16] [DEVICE] [SIZE] [SLICES]\n",
                 argv[0]);
    return EXIT_FAILURE;
  }
  try
  {
    const std::string what = argv[1];
    const int         batch = std::stoi(argv[2]);
    const int         threads = std::stoi(argv[3]);
    const int         repeats = argc > 4 ? std::stoi(argv[4]) : 3;
    const std::string precision = argc > 5 ? argv[5] : "fp32";
    const std::string device = argc > 6 ? argv[6] : "cpu";
    focusnet::Model   model = [&]
    {
      if (what.find_first_not_of("0123456789.") == std::string::npos)
      {
        focusnet::ModelMetadata metadata;
        metadata.architecture.width = std::stod(what);
        return focusnet::Model::Create(metadata, 1);
      }
      return focusnet::Model::Load(what);
    }();
    const int64_t size = argc > 7 ? std::stoll(argv[7]) : model.Metadata().inputSize;
    const int64_t channels = model.Metadata().architecture.inputChannels;
    const int64_t count = std::max<int64_t>(batch, argc > 8 ? std::stoll(argv[8]) : 8) / batch * batch;

    focusnet::InferenceOptions options;
    options.device = device;
    options.threads = threads;
    options.batchSize = batch;
    options.precision = precision;
    const focusnet::InferenceEngine engine(model, options);

    std::vector<float>                    slices(static_cast<size_t>(count * size * size * channels));
    std::vector<float>                    probabilities(static_cast<size_t>(count * size * size));
    std::mt19937                          random(7);
    std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
    std::generate(slices.begin(), slices.end(), [&] { return uniform(random); });

    // As the ITK filter runs its batches: LibTorch's thread count set once, not each call.
    const focusnet::InferenceEngine::ThreadCountScope threadCount(engine);
    engine.Predict(slices.data(), batch, size, size, channels, probabilities.data()); // warm-up
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r)
    {
      const auto start = std::chrono::steady_clock::now();
      engine.Predict(slices.data(), count, size, size, channels, probabilities.data());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
                   static_cast<double>(count));
    }
    std::sort(ms.begin(), ms.end());
    std::printf("engine %.4f %.4f %.4f %lld\n",
                ms[ms.size() / 2],
                ms.front(),
                ms.back(),
                static_cast<long long>(model.MultiplyAccumulatesPerSlice()));
  }
  catch (const std::exception & e)
  {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
