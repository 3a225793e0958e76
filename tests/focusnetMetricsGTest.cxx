/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The paper's metrics and the plateau scheduler, on hand-computed cases.

#include "focusnetMetrics.h"
#include "focusnetPlateauScheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace
{
using focusnet::ConfusionCounts;
using focusnet::HausdorffDistance95;
using focusnet::PlateauScheduler;

ConfusionCounts
Count(const std::vector<std::uint8_t> & truth, const std::vector<std::uint8_t> & prediction)
{
  return ConfusionCounts::Count(truth.data(), prediction.data(), truth.size());
}

TEST(FocusNetMetrics, KnownOverlap)
{
  // truth:      1 1 1 1 0 0 0 0 0 0
  // prediction: 0 1 1 1 1 1 0 0 0 0   -> TP 3, FP 2, FN 1, TN 4
  const auto c = Count({ 1, 1, 1, 1, 0, 0, 0, 0, 0, 0 }, { 0, 1, 1, 1, 1, 1, 0, 0, 0, 0 });
  EXPECT_EQ(c.truePositives, 3U);
  EXPECT_EQ(c.falsePositives, 2U);
  EXPECT_EQ(c.falseNegatives, 1U);
  EXPECT_EQ(c.trueNegatives, 4U);
  EXPECT_DOUBLE_EQ(c.Dice(), 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(c.Jaccard(), 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(c.Accuracy(), 7.0 / 10.0);
  EXPECT_DOUBLE_EQ(c.Sensitivity(), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(c.Specificity(), 4.0 / 6.0);
  // Jaccard and Dice of the same counts are tied: J = D / (2 - D).
  EXPECT_DOUBLE_EQ(c.Jaccard(), c.Dice() / (2.0 - c.Dice()));
}

TEST(FocusNetMetrics, EmptyAndFullMasks)
{
  const auto bothEmpty = Count({ 0, 0, 0 }, { 0, 0, 0 });
  EXPECT_DOUBLE_EQ(bothEmpty.Dice(), 1.0);
  EXPECT_DOUBLE_EQ(bothEmpty.Sensitivity(), 1.0);
  EXPECT_DOUBLE_EQ(bothEmpty.Specificity(), 1.0);
  const auto missed = Count({ 1, 1, 0 }, { 0, 0, 0 });
  EXPECT_DOUBLE_EQ(missed.Dice(), 0.0);
  EXPECT_DOUBLE_EQ(missed.Sensitivity(), 0.0);
  EXPECT_DOUBLE_EQ(missed.Specificity(), 1.0);
  const auto full = Count({ 1, 1, 1, 1 }, { 1, 1, 1, 1 });
  EXPECT_DOUBLE_EQ(full.Dice(), 1.0);
  EXPECT_DOUBLE_EQ(full.Accuracy(), 1.0);
  const auto everything = Count({ 1, 0, 0, 0 }, { 1, 1, 1, 1 });
  EXPECT_DOUBLE_EQ(everything.Specificity(), 0.0);
  EXPECT_DOUBLE_EQ(everything.Dice(), 2.0 / 5.0);
}

TEST(FocusNetMetrics, CountsPoolOverImages)
{
  ConfusionCounts pooled = Count({ 1, 0 }, { 1, 1 });
  pooled += Count({ 1, 1 }, { 0, 1 });
  EXPECT_EQ(pooled.truePositives, 2U);
  EXPECT_EQ(pooled.falsePositives, 1U);
  EXPECT_EQ(pooled.falseNegatives, 1U);
  EXPECT_EQ(pooled.Total(), 4U);
  EXPECT_DOUBLE_EQ(pooled.Dice(), 4.0 / 6.0);
}

TEST(FocusNetMetrics, HausdorffDistanceOfShiftedSquares)
{
  constexpr int             size = 20;
  std::vector<std::uint8_t> a(size * size, 0), b(size * size, 0);
  for (int y = 5; y < 15; ++y)
  {
    for (int x = 5; x < 15; ++x)
    {
      a[y * size + x] = 1;
      b[y * size + x + 3] = 1; // the same square three pixels to the right
    }
  }
  EXPECT_DOUBLE_EQ(HausdorffDistance95(a.data(), a.data(), size, size), 0.0);
  // Most outline pixels are 0 away (top and bottom rows overlap) but the left and right columns are 3 away.
  EXPECT_DOUBLE_EQ(HausdorffDistance95(a.data(), b.data(), size, size), 3.0);
  EXPECT_DOUBLE_EQ(HausdorffDistance95(a.data(), b.data(), size, size, 0.5, 2.0), 1.5); // physical units
  std::vector<std::uint8_t> empty(size * size, 0);
  EXPECT_TRUE(std::isnan(HausdorffDistance95(a.data(), empty.data(), size, size)));
  EXPECT_DOUBLE_EQ(HausdorffDistance95(empty.data(), empty.data(), size, size), 0.0);
}

TEST(FocusNetPlateauScheduler, ReducesAfterPatienceEpochsWithoutImprovement)
{
  PlateauScheduler::Options options; // the paper: factor 0.5, patience 5, threshold 0.001
  PlateauScheduler          scheduler(options, 1e-3);
  EXPECT_TRUE(scheduler.Step(0.50));   // first loss: best
  EXPECT_TRUE(scheduler.Step(0.40));   // improved
  EXPECT_TRUE(scheduler.Step(0.3995)); // a new best, but by less than the threshold: not an improvement
  for (int i = 0; i < 3; ++i)
  {
    EXPECT_FALSE(scheduler.Step(0.41));
    EXPECT_DOUBLE_EQ(scheduler.Rate(), 1e-3);
  }
  EXPECT_FALSE(scheduler.Step(0.42)); // fifth epoch without improvement since 0.40
  EXPECT_DOUBLE_EQ(scheduler.Rate(), 5e-4);
  for (int i = 0; i < 4; ++i)
  {
    scheduler.Step(0.45);
  }
  EXPECT_DOUBLE_EQ(scheduler.Rate(), 5e-4); // patience counts again from the reduction
  scheduler.Step(0.45);
  EXPECT_DOUBLE_EQ(scheduler.Rate(), 2.5e-4);
  EXPECT_TRUE(scheduler.Step(0.30)); // a real improvement resets the count
  for (int i = 0; i < 4; ++i)
  {
    scheduler.Step(0.31);
  }
  EXPECT_DOUBLE_EQ(scheduler.Rate(), 2.5e-4);
  EXPECT_FALSE(scheduler.ShouldStop()); // no early stopping by default
}

TEST(FocusNetPlateauScheduler, EarlyStoppingAndStateRoundTrip)
{
  PlateauScheduler::Options options;
  options.factor = 0.1;
  options.patience = 2;
  options.stopPatience = 3; // the authors' code variant uses 10
  options.minimumRate = 1e-5;
  PlateauScheduler scheduler(options, 1e-3);
  scheduler.Step(1.0);
  scheduler.Step(1.0);
  EXPECT_FALSE(scheduler.ShouldStop());
  scheduler.Step(1.0);
  EXPECT_DOUBLE_EQ(scheduler.Rate(), 1e-4);
  PlateauScheduler copy(options, 1.0);
  copy.SetState(scheduler.GetState());
  scheduler.Step(1.0);
  copy.Step(1.0);
  EXPECT_TRUE(scheduler.ShouldStop());
  EXPECT_TRUE(copy.ShouldStop());
  EXPECT_DOUBLE_EQ(copy.Rate(), scheduler.Rate());
  for (int i = 0; i < 10; ++i)
  {
    scheduler.Step(1.0);
  }
  EXPECT_DOUBLE_EQ(scheduler.Rate(), 1e-5); // never below the minimum
}

} // namespace
