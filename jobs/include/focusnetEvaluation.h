/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetEvaluation_h
#define focusnetEvaluation_h

#include "focusnetImagePairs.h"
#include "focusnetInferenceEngine.h"
#include "focusnetMetrics.h"

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
};

/** The paper's metrics over a set of images: pooled over every pixel (as the paper reports them), and per image. */
struct EvaluationReport
{
  std::vector<ImageEvaluation> images;
  ConfusionCounts              pooled;

  /** A markdown table: pooled DI JI AC SE SP, per-image mean and standard deviation, and HD95. */
  std::string
  Markdown() const;
  /** One CSV line per image, then the pooled counts. Written atomically. */
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

} // namespace focusnet

#endif
