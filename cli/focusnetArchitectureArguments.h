/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetArchitectureArguments_h
#define focusnetArchitectureArguments_h

#include "focusnetModelMetadata.h"

#include <CLI/CLI.hpp>

#include <string>

namespace focusnet
{

/** The network options that `focusnet init`, `focusnet info` and `focusnet-train` share: one definition of
 * each flag, its default and its check. */
struct ArchitectureArguments
{
  double      width{ 1.0 };
  int         inputChannels{ 1 };
  int         inputSize{ 256 };
  int         stemWidth{ 24 };
  int         minimumChannels{ 1 };
  std::string dropout{ "bottleneck" };

  void
  AddTo(CLI::App & command)
  {
    command.add_option("--width", width, "Width multiplier applied to every channel count")->capture_default_str();
    command.add_option("--in-channels", inputChannels, "Input channels: 1 (gray) or 3 (RGB)")
      ->check(CLI::IsMember({ 1, 3 }))
      ->capture_default_str();
    m_SizeOption =
      command.add_option("--size", inputSize, "Network input size (a multiple of 16)")->capture_default_str();
    command.add_option("--stem-width", stemWidth, "FocusNet attention stem (a0) width: 24 (paper) or 32")
      ->capture_default_str();
    command.add_option("--min-channels", minimumChannels, "No layer narrower than this after --width")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
    command.add_option("--dropout", dropout, "Dropout placement: none, bottleneck or throughout")
      ->check(CLI::IsMember({ "none", "bottleneck", "throughout" }))
      ->capture_default_str();
  }

  /** Whether --size was on the command line (not just its default). */
  bool
  SizeGiven() const
  {
    return m_SizeOption != nullptr && m_SizeOption->count() > 0;
  }

  /** Writes these options into \p metadata (architecture, input size, an identity normalisation per channel);
   * leaves its architecture name, dropout rate, label and provenance alone. */
  void
  ApplyTo(ModelMetadata & metadata) const
  {
    metadata.architecture.width = width;
    metadata.architecture.inputChannels = inputChannels;
    metadata.architecture.attentionStemWidth = stemWidth;
    metadata.architecture.minimumChannels = minimumChannels;
    metadata.architecture.dropoutPlacement = DropoutPlacementFromString(dropout);
    metadata.inputSize = inputSize;
    metadata.normalization.mean.assign(static_cast<size_t>(inputChannels), 0.0);
    metadata.normalization.standardDeviation.assign(static_cast<size_t>(inputChannels), 1.0);
  }

  ModelMetadata
  Metadata(const std::string & architecture) const
  {
    ModelMetadata metadata;
    metadata.architecture.name = architecture;
    ApplyTo(metadata);
    return metadata;
  }

private:
  CLI::Option * m_SizeOption{ nullptr };
};

} // namespace focusnet

#endif
