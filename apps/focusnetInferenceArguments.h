/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetInferenceArguments_h
#define focusnetInferenceArguments_h

#include "focusnetInferenceEngine.h"

#include <CLI/CLI.hpp>

#include <string>

namespace focusnet
{

/** --device and --threads, as every command that runs a network takes them (focusnet-train too). */
inline void
AddDeviceArguments(CLI::App & command, std::string & device, int & threads)
{
  command.add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  command.add_option("--threads", threads, "LibTorch threads (0: all cores)")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();
}

/** The inference flags of segment, batch and evaluate: one definition of each, its default and its check. */
inline void
AddInferenceArguments(CLI::App & command, InferenceOptions & options)
{
  AddDeviceArguments(command, options.device, options.threads);
  command.add_option("--batch-size", options.batchSize, "Slices per forward pass")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
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

/** A probability threshold strictly between 0 and 1, as the model file requires of its own. */
inline const CLI::Validator &
OpenUnitInterval()
{
  static const CLI::Validator validator(
    [](std::string & text)
    {
      double value = 0.0;
      try
      {
        value = std::stod(text);
      }
      catch (const std::exception &)
      {
        return std::string("not a number: ") + text;
      }
      return value > 0.0 && value < 1.0 ? std::string() : "must lie strictly between 0 and 1, not " + text;
    },
    "(0, 1)");
  return validator;
}

} // namespace focusnet

#endif
