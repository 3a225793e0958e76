/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/

// Label maps in bf16 and fp16 against fp32 on real slices, through InferenceEngine alone (no ITK: it runs on the
// GPU machine too). The slices and their manual masks come as raw files, as benchmarks/gpu/prepare.sh writes them
// from the Kaggle lung set.
//
//   focusnet-precision-agreement MODEL_FILE SLICES_INT16 MASKS_UINT8 HEIGHT WIDTH DEVICE [BATCH]
//
// SLICES_INT16: N x HEIGHT x WIDTH little-endian int16 (CT values in HU); MASKS_UINT8: the same count of uint8
// masks (non-zero: lung). For each of fp32, bf16 and fp16 that the device runs, prints a row: pooled Dice with the
// fp32 label maps (all pixels of all slices together), the lowest slice's Dice with fp32, pooled Dice with the
// manual masks, slices/s of one pass after a warm-up pass. Dice is counted here, not by FocusNet's metrics.

#include "focusnetInferenceEngine.h"
#include "focusnetModel.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace
{
template <typename T>
std::vector<T>
ReadRaw(const std::string & fileName, std::size_t count)
{
  std::ifstream  file(fileName, std::ios::binary);
  std::vector<T> values(count);
  if (!file.read(reinterpret_cast<char *>(values.data()), static_cast<std::streamsize>(count * sizeof(T))) ||
      file.peek() != std::char_traits<char>::eof())
  {
    throw std::runtime_error(fileName + ": not " + std::to_string(count) + " values of " + std::to_string(sizeof(T)) +
                             " byte(s)");
  }
  return values;
}

/** 2|A and B| / (|A| + |B|) over pixels [begin, end) of two label maps; 1 when both are empty. */
template <typename A, typename B>
double
Dice(const std::vector<A> & a, const std::vector<B> & b, std::size_t begin, std::size_t end)
{
  std::size_t both = 0, sizes = 0;
  for (std::size_t i = begin; i < end; ++i)
  {
    both += (a[i] != 0 && b[i] != 0) ? 1 : 0;
    sizes += (a[i] != 0 ? 1 : 0) + (b[i] != 0 ? 1 : 0);
  }
  return sizes == 0 ? 1.0 : 2.0 * static_cast<double>(both) / static_cast<double>(sizes);
}
} // namespace

int
main(int argc, char * argv[])
{
  if (argc < 7)
  {
    std::fprintf(stderr, "usage: %s MODEL_FILE SLICES_INT16 MASKS_UINT8 HEIGHT WIDTH DEVICE [BATCH]\n", argv[0]);
    return EXIT_FAILURE;
  }
  try
  {
    const focusnet::Model    model = focusnet::Model::Load(argv[1]);
    const int64_t            height = std::stoll(argv[4]), width = std::stoll(argv[5]);
    const std::string        device = argv[6];
    const int                batch = argc > 7 ? std::stoi(argv[7]) : 16;
    std::ifstream            probe(argv[2], std::ios::binary | std::ios::ate);
    const auto               count = static_cast<int64_t>(probe.tellg()) / (height * width * 2);
    const auto               pixels = static_cast<std::size_t>(count * height * width);
    const auto               raw = ReadRaw<std::int16_t>(argv[2], pixels);
    const auto               masks = ReadRaw<std::uint8_t>(argv[3], pixels);
    const std::vector<float> slices(raw.begin(), raw.end());
    const double             threshold = model.Metadata().threshold;

    std::vector<std::uint8_t> reference;
    std::printf("| precision | pooled Dice with fp32 | lowest slice's Dice with fp32 | pooled Dice with the masks | "
                "slices/s |\n|---|---|---|---|---|\n");
    for (const std::string precision : { "fp32", "bf16", "fp16" })
    {
      focusnet::InferenceOptions options;
      options.device = device;
      options.batchSize = batch;
      options.precision = precision;
      try
      {
        focusnet::CheckInferenceOptions(options);
      }
      catch (const std::exception & e)
      {
        std::printf("| %s | refused here: %s | | | |\n", precision.c_str(), e.what());
        continue;
      }
      const focusnet::InferenceEngine                   engine(model, options);
      const focusnet::InferenceEngine::ThreadCountScope threads(engine);
      std::vector<float>                                probabilities(pixels);
      engine.Predict(slices.data(), count, height, width, 1, probabilities.data()); // warm-up
      const auto start = std::chrono::steady_clock::now();
      engine.Predict(slices.data(), count, height, width, 1, probabilities.data());
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::vector<std::uint8_t> labels(pixels);
      std::transform(probabilities.begin(),
                     probabilities.end(),
                     labels.begin(),
                     [threshold](float p) { return p >= threshold ? 1 : 0; });
      if (reference.empty())
      {
        reference = labels;
      }
      double lowest = 1.0;
      for (int64_t s = 0; s < count; ++s)
      {
        const auto begin = static_cast<std::size_t>(s * height * width);
        lowest = std::min(lowest, Dice(labels, reference, begin, begin + static_cast<std::size_t>(height * width)));
      }
      std::printf("| %s | %.5f | %.5f | %.4f | %.1f |\n",
                  precision.c_str(),
                  Dice(labels, reference, 0, pixels),
                  lowest,
                  Dice(labels, masks, 0, pixels),
                  static_cast<double>(count) / seconds);
      std::fflush(stdout);
    }
    std::printf("%lld slices of %lld x %lld, batch %d, %s\n",
                static_cast<long long>(count),
                static_cast<long long>(height),
                static_cast<long long>(width),
                batch,
                device.c_str());
  }
  catch (const std::exception & e)
  {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
