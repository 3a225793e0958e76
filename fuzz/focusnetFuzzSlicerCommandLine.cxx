/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Fuzz target: the Slicer CLI module's command line (arguments separated by NUL bytes). Either CLI11 answers it (a
// usage error, --help, --version) or the request holds values the library accepts (written out by hand here);
// any exception is a finding (RunCommandLine would turn it into a message that does not say what was wrong).

#include "FocusNetSegmentationCommandLine.h"
#include "focusnetFuzzTarget.h"

#include <cmath>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t * data, std::size_t size)
{
  std::vector<std::string> arguments{ "FocusNetSegmentation" };
  std::string              argument;
  for (std::size_t i = 0; i <= size; ++i)
  {
    if (i == size || data[i] == '\0')
    {
      arguments.push_back(argument);
      argument.clear();
    }
    else
    {
      argument.push_back(static_cast<char>(data[i]));
    }
  }
  std::vector<const char *> argv;
  for (const std::string & a : arguments)
  {
    argv.push_back(a.c_str());
  }
  std::ostream silent(nullptr);
  int          exitCode = 0;
  const auto   request =
    focusnet::slicer::ParseCommandLine(static_cast<int>(argv.size()), argv.data(), exitCode, silent, silent);
  if (!request)
  {
    return 0;
  }
  const auto & inference = request->options.inference;
  const double threshold = request->options.threshold;
  if (request->inputVolume.empty() || request->outputLabelVolume.empty())
  {
    std::abort(); // both are required, as file names
  }
  if (inference.threads < 0 || inference.threads > 256 || inference.batchSize < 1 || inference.batchSize > 256 ||
      !(std::isnan(threshold) || (threshold > 0.0 && threshold < 1.0)))
  {
    std::abort(); // outside the ranges of the options (focusnetOptions.h)
  }
  const std::string & device = inference.device.Name();
  const std::string   precision = inference.precision.Name();
  const bool          cudaIndex = device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
                         device.find_first_not_of("0123456789", 5) == std::string::npos;
  if (!(device == "auto" || device == "cpu" || device == "cuda" || cudaIndex) ||
      !(precision == "fp32" || precision == "bf16" || precision == "fp16") ||
      focusnet::Device(device) != inference.device || focusnet::Precision(precision) != inference.precision)
  {
    std::abort(); // not a device or precision the library knows
  }
  return 0;
}
