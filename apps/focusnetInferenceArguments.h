/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetInferenceArguments_h
#define focusnetInferenceArguments_h

#include "focusnetInferenceEngine.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <type_traits>

#include <string>

namespace focusnet
{

/** CLI11's usage errors (a flag's value out of range, an unknown flag) in the same one-line form as every other
 * error, "NAME: error: MESSAGE", instead of CLI11's two lines. */
inline void
UseOneLineUsageErrors(CLI::App & app, const char * name)
{
  app.failure_message(
    [name](const CLI::App *, const CLI::Error & e)
    {
      std::string message = e.what();
      std::replace(message.begin(), message.end(), '\n', ' ');
      return std::string(name) + ": error: " + message + "\n";
    });
}

/** A flag made from the library's description of a numeric option (focusnetOptions.h): its name, help, default and
 * range, refused in the library's words ("--batch-size: batch size must lie in [1, 256], not 0"). */
template <typename T>
CLI::Option *
AddNumericOption(CLI::App & command, const NumericOption & description, T & value)
{
  const CLI::Validator range(
    [description](std::string & text)
    {
      try
      {
        std::size_t  used = 0;
        const double number = std::stod(text, &used);
        return used == text.size() ? OptionRefusal(description, number) : "not a number: " + text;
      }
      catch (const std::exception &)
      {
        return "not a number: " + text;
      }
    },
    description.Range());
  std::string help = description.help;
  help[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(help[0])));
  auto * added = command.add_option(description.Flag(), value, help)->check(range);
  if constexpr (std::is_floating_point_v<T>)
  {
    if (std::isnan(value))
    {
      return added; // no number: the help says what the default is
    }
  }
  return added->capture_default_str();
}

/** --device and --threads, as every command that runs a network takes them (focusnet-train too). */
inline void
AddDeviceArguments(CLI::App & command, std::string & device, int & threads)
{
  command.add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  AddNumericOption(command, option::Threads, threads);
}

/** The inference flags of segment, batch and evaluate: one definition of each, its default and its check. */
inline void
AddInferenceArguments(CLI::App & command, InferenceOptions & options)
{
  AddDeviceArguments(command, options.device, options.threads);
  AddNumericOption(command, option::BatchSize, options.batchSize);
  command.add_flag(
    "--tta", options.flipAugmentation, "Average over the mirror images the model was trained on (up to 3x slower)");
  command
    .add_option("--precision",
                options.precision,
                "fp32; bf16 on CPUs with AVX512-BF16 or AMX and on GPUs (faster; label maps agree to Dice 0.999 on "
                "the lung slices); fp16 on GPUs")
    ->check(CLI::IsMember({ "fp32", "bf16", "fp16" }))
    ->capture_default_str();
}

} // namespace focusnet

#endif
