/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetMetrics_h
#define focusnetMetrics_h

#include <cstddef>
#include <cstdint>

namespace focusnet
{

/** \class ConfusionCounts
 * \brief Pixel counts of a binary segmentation against the truth, and the paper's metrics computed from them.
 *
 * Counts add up over images, so one object gives the metrics pooled over every pixel of a set (as the paper
 * reports them). A ratio whose denominator is zero (e.g. Dice of two empty masks) is 1: nothing to find and
 * nothing found is a perfect result.
 * \ingroup FocusNet
 */
struct ConfusionCounts
{
  std::uint64_t truePositives{ 0 };
  std::uint64_t falsePositives{ 0 };
  std::uint64_t trueNegatives{ 0 };
  std::uint64_t falseNegatives{ 0 };

  /** Counts `count` pixels; a pixel is foreground where its value is non-zero. */
  static ConfusionCounts
  Count(const std::uint8_t * truth, const std::uint8_t * prediction, std::size_t count);

  ConfusionCounts &
  operator+=(const ConfusionCounts & other);

  std::uint64_t
  Total() const;
  double
  Dice() const; ///< DI = 2 TP / (2 TP + FP + FN)
  double
  Jaccard() const; ///< JI = TP / (TP + FP + FN)
  double
  Accuracy() const; ///< AC = (TP + TN) / all
  double
  Sensitivity() const; ///< SE = TP / (TP + FN), the true positive rate
  double
  Specificity() const; ///< SP = TN / (TN + FP), the true negative rate
};

/** The 95th percentile Hausdorff distance between the outlines of two binary 2D masks (height x width, row by
 * row), in physical units: the 95th percentile of the distances from every outline pixel of either mask to the
 * nearest outline pixel of the other. 0 when both masks are empty, NaN when only one is. */
double
HausdorffDistance95(const std::uint8_t * a,
                    const std::uint8_t * b,
                    std::int64_t         height,
                    std::int64_t         width,
                    double               spacingX = 1.0,
                    double               spacingY = 1.0);

} // namespace focusnet

#endif
