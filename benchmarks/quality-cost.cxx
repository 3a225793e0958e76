/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/

// What the quality signals cost beside the network: on one real slice (an image and its mask, e.g. the bundled lung
// slice), the median ms of InferenceEngine::Predict for it and of the measurement the ITK filter adds per slice
// (focusnet::MeasureInput of the input, focusnet::MeasureSlice of the probabilities), both on one thread of the
// caller, the network on THREADS LibTorch threads.
//
//   focusnet-quality-cost MODEL_FILE IMAGE MASK [THREADS] [REPEATS]
//
// Prints "inference <ms>  measurement <ms>  (<percent> % of inference)" for a slice of the image's size.

#include "focusnetImagePairs.h"
#include "focusnetInferenceEngine.h"
#include "focusnetModel.h"
#include "focusnetQuality.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace
{
template <typename TWork>
double
MedianMilliseconds(int repeats, TWork && work)
{
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r)
  {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + repeats / 2, times.end());
  return times[repeats / 2];
}
} // namespace

int
main(int argc, char * argv[])
{
  if (argc < 4)
  {
    std::fprintf(stderr, "usage: %s MODEL_FILE IMAGE MASK [THREADS] [REPEATS]\n", argv[0]);
    return EXIT_FAILURE;
  }
  try
  {
    const focusnet::Model      model = focusnet::Model::Load(argv[1]);
    const focusnet::ImageSlice slice = focusnet::ReadImagePair({ "slice", argv[2], argv[3] });
    focusnet::InferenceOptions options;
    options.device = "cpu";
    options.threads = argc > 4 ? std::stoi(argv[4]) : 2;
    const int repeats = std::max(1, argc > 5 ? std::stoi(argv[5]) : 9);
    const focusnet::InferenceEngine                   engine(model, options);
    const focusnet::InferenceEngine::ThreadCountScope threads(engine);

    std::vector<float> probabilities(static_cast<std::size_t>(slice.height * slice.width));
    auto               predict = [&]
    { engine.Predict(slice.pixels.data(), 1, slice.height, slice.width, slice.channels, probabilities.data()); };
    predict(); // warm-up
    const double inference = MedianMilliseconds(repeats, predict);
    const double threshold = model.Metadata().threshold;
    double       sink = 0.0; // keeps the measurement from being optimised away
    const double measurement = MedianMilliseconds(
      repeats,
      [&]
      {
        focusnet::SliceQuality quality =
          focusnet::MeasureSlice(probabilities.data(), slice.height, slice.width, threshold);
        quality.input = focusnet::MeasureInput(slice.pixels.data(),
                                               slice.height,
                                               slice.width,
                                               slice.channels,
                                               { slice.spacing[0], slice.spacing[1] },
                                               model.Metadata().quality.Median());
        sink += quality.entropyBits + quality.input.intensity[10] + quality.input.noise;
      });
    std::printf("%lld x %lld slice: inference %.1f ms  measurement %.2f ms  (%.1f %% of inference)%s\n",
                static_cast<long long>(slice.width),
                static_cast<long long>(slice.height),
                inference,
                measurement,
                100.0 * measurement / inference,
                sink < 0 ? " " : "");
  }
  catch (const std::exception & e)
  {
    std::fprintf(stderr, "focusnet-quality-cost: %s\n", e.what());
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
