/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetSegmentation_h
#define focusnetSegmentation_h

#include "focusnetDicom.h"
#include "focusnetImageIO.h"
#include "focusnetInferenceEngine.h"
#include "focusnetQuality.h"
#include "itkImage.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace focusnet
{

class Model;
struct SegmentLabel;

/** Writes a further output file from a finished label map (a 2D one comes as a volume of one slice) and the model's
 * label, atomically; throws focusnet::Error naming the file. Layers above this one supply them: FocusNet::VTK's .vti
 * image data and surface meshes, through the focusnet command. */
using LabelMapWriter = std::function<
  void(const itk::Image<std::uint8_t, 3> * labels, const SegmentLabel & label, const std::string & fileName)>;

struct LabelMapOutput
{
  std::string    fileName;
  LabelMapWriter write;
};

struct SegmentationOptions
{
  InferenceOptions            inference;
  int                         sliceAxis{ -1 };                                       ///< -1: the last axis
  double                      threshold{ std::numeric_limits<double>::quiet_NaN() }; ///< NaN: the model's
  std::string                 seriesUid;           ///< picks the series of a DICOM folder
  std::string                 probabilityFileName; ///< also write the probability map (float) when set
  std::string                 uncertaintyFileName; ///< also write each pixel's BinaryEntropy (float, bits) when set
  std::string                 overlayFileName;     ///< also write a PNG of the (middle) slice with the label outline
  std::string                 dicomSegmentationFileName;  ///< also write a DICOM SEG (DICOM input only) when set
  std::string                 slicerSegmentationFileName; ///< also write a 3D Slicer segmentation (.seg.nrrd)
  std::vector<LabelMapOutput> labelMapOutputs;            ///< also written, checked and removed with the others
  DicomSegmentationOptions    dicomSegmentation;
  bool                        overwrite{ false }; ///< replace existing output files
  std::function<void(float)>  progress;           ///< called with 0..1 as slices finish
};

struct SegmentationResult
{
  ImageSource   source;
  std::uint64_t slices{ 0 };
  std::uint64_t labelVoxels{ 0 };
  double        labelVolumeMm3{ 0.0 }; ///< label voxels times the voxel volume (pixel area in 2D)
  SeriesQuality quality;                ///< how far to trust the label map, as a whole
  std::vector<SliceQuality> sliceQuality; ///< and slice by slice, across the slice axis
  std::vector<QualityFlag>  flags;        ///< FlagQuality against the model's reference: what a reader must check
};

/** The folder of the running executable (from /proc/self/exe): installed files are found relative to it, so that a
 * moved or packaged prefix keeps them. */
std::string
ExecutableFolder();

/** The model file to use when the caller names none: $FOCUSNET_MODEL when set, else installed (the default model
 * where the caller's front door installs it). Throws focusnet::Error (Remedy::ChooseModel) when neither exists. */
std::string
DefaultModelFile(const std::string & installed);

/** The whole file-to-file job: read the image (file or DICOM series), run itk::FocusNetImageFilter, write the
 * label map (and probabilities, overlay, DICOM SEG, Slicer segmentation) with the input's geometry, atomically. An
 * output ending in .dcm is written as a DICOM Segmentation instead of a label map, one ending in .seg.nrrd as a 3D
 * Slicer segmentation. Output names (and, for DICOM SEG, the source's
 * UIDs) are checked before any work; an existing output is an error unless options.overwrite. When one output
 * fails, the others of this call are removed. Throws focusnet::Error. */
SegmentationResult
SegmentImageFile(const std::string &                  input,
                 const std::string &                  output,
                 const std::shared_ptr<const Model> & model,
                 const SegmentationOptions &          options);

/** SegmentImageFile for an image already examined (InspectImageSource, ToImageSource). output may be empty when
 * another output (DICOM SEG, Slicer segmentation, options.labelMapOutputs) is named. */
SegmentationResult
SegmentImageSource(const ImageSource &                  source,
                   const std::string &                  output,
                   const std::shared_ptr<const Model> & model,
                   const SegmentationOptions &          options);

} // namespace focusnet

#endif
