/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetModelMetadata_h
#define focusnetModelMetadata_h

#include "focusnetQuality.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace focusnet
{

/** Where dropout layers sit in FocusNet. The authors' ISBI code has exactly one, after the deepest
 * attention-encoder block; the paper text says "throughout". */
enum class DropoutPlacement
{
  None,
  AttentionBottleneck,
  Throughout
};

std::string
ToString(DropoutPlacement placement);
DropoutPlacement
DropoutPlacementFromString(const std::string & name);

/** The network and its hyper-parameters. */
struct ArchitectureOptions
{
  std::string      name{ "focusnet" };       ///< "focusnet" or "unet"
  int              inputChannels{ 1 };       ///< 1 (grayscale) or 3 (RGB)
  double           width{ 1.0 };             ///< multiplier applied to every channel count
  int              attentionStemWidth{ 24 }; ///< FocusNet a0 width before the multiplier (24 paper, 32 later code)
  int              minimumChannels{ 1 };     ///< no layer narrower than this after the multiplier (as MobileNet)
  DropoutPlacement dropoutPlacement{ DropoutPlacement::AttentionBottleneck };
  double           dropoutRate{ 0.2 };
};

/** How raw intensities become network input. MeanStd: (x - mean) / std per channel.
 * Window: clamp to [center - width/2, center + width/2] and map to [0, 1] (CT). */
struct Normalization
{
  enum class Kind
  {
    MeanStd,
    Window
  };
  Kind                kind{ Kind::MeanStd };
  std::vector<double> mean{ 0.0 };
  std::vector<double> standardDeviation{ 1.0 };
  double              windowCenter{ 0.0 };
  double              windowWidth{ 1.0 };
};

/** A DICOM coded concept: (CodeValue, CodingSchemeDesignator, CodeMeaning). */
struct CodedConcept
{
  std::string value;
  std::string scheme;
  std::string meaning;
};

/** The structure the model segments, as label maps, Slicer and DICOM SEG need it. */
struct SegmentLabel
{
  std::string                 name{ "Lung" };
  std::uint8_t                value{ 1 };
  std::array<std::uint8_t, 3> color{ { 128, 174, 128 } };
  CodedConcept                category{ "123037004", "SCT", "Anatomical Structure" };
  CodedConcept                type{ "39607008", "SCT", "Lung" };
};

/** Everything needed to use a set of weights: stored in the model file next to them. */
struct ModelMetadata
{
  ArchitectureOptions architecture;
  int                 inputSize{ 256 }; ///< network input is inputSize x inputSize
  Normalization       normalization;
  double              threshold{ 0.5 };
  SegmentLabel        label;
  /** Free-form JSON object: training data, epochs, validation metrics, project version. */
  std::string provenanceJson{ "{}" };
  /** What the training data looked like and the limits of the quality flags ("quality" in the file; absent in files
   * written before it, and then only no-target is flagged). */
  QualityReference quality;
  /** How label maps are cleaned after the threshold ("clean_up" in the file; absent: not at all). */
  CleanUp cleanUp;
};

/** Serialise to and from the JSON stored in the model file. Parsing throws focusnet::Error. */
std::string
ToJson(const ModelMetadata & metadata, int indent = -1);
ModelMetadata
ModelMetadataFromJson(const std::string & json);

/** The mirror images a model was trained on, as its provenance records them (focusnet-train's augmentation);
 * both when the model file does not say. Flip test-time augmentation uses these and no others. */
struct Flips
{
  bool leftRight{ true };
  bool upDown{ true };
};
Flips
TrainedFlips(const ModelMetadata & metadata);

/** Throws focusnet::Error when the options cannot describe a network (bad channels, width, size...). */
void
Validate(const ModelMetadata & metadata);

} // namespace focusnet

#endif
