/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetEvaluation_h
#define focusnetEvaluation_h

#include "focusnetImagePairs.h"
#include "focusnetInferenceEngine.h"
#include "focusnetMetrics.h"
#include "focusnetQuality.h"

#include <functional>
#include <string>
#include <vector>

namespace focusnet
{

class Model;

struct ImageEvaluation
{
  std::string     name;
  ConfusionCounts counts;
  double          hausdorff95{ 0.0 }; ///< physical units of the image (pixels when it has no spacing); NaN if undefined
  SeriesQuality            quality; ///< the signals of how far to trust the result (focusnetQuality.h)
  std::vector<QualityFlag> flags;   ///< against the model's quality reference
};

/** The paper's metrics over a set of images: pooled over every pixel (as the paper reports them), and per image. */
struct EvaluationReport
{
  std::vector<ImageEvaluation> images;
  ConfusionCounts              pooled;

  /** A markdown table: pooled DI JI AC SE SP, per-image mean and standard deviation, and HD95. */
  std::string
  Markdown() const;
  /** One CSV line per image (the metrics, the quality signals and the flags' names), then the pooled counts.
   * Written atomically. */
  void
  WriteCsv(const std::string & fileName) const;
};

/** Segments every image at its original resolution (normalised, resized to the network, probabilities resized
 * back, thresholded at the model's threshold) and compares it with its mask. */
EvaluationReport
Evaluate(const Model &                      model,
         const std::vector<ImagePair> &     pairs,
         const InferenceOptions &           options,
         const std::function<void(float)> & progress = {});

/** Measures a model's quality reference (ModelMetadata::quality) and sets it on the model (the weights stay as they
 * are): the intensity quantiles of its training images, pooled; the range of the share of a training mask's pixels
 * that are label (over the masks with label, widened QualityReference::Margin times); and each limit Margin times the
 * largest value of its signal among the validation images' results (Evaluate with options). modality: the DICOM
 * modality of the training data ("CT"), or empty; by: what measured it, for the record ("focusnet calibrate").
 * Throws focusnet::Error naming an unreadable image, and for an empty training or validation set. */
QualityReference
CalibrateQuality(Model &                            model,
                 const std::vector<ImagePair> &     training,
                 const std::vector<ImagePair> &     validation,
                 const InferenceOptions &           options,
                 const std::string &                modality,
                 const std::string &                by,
                 const std::function<void(float)> & progress = {});

} // namespace focusnet

#endif
