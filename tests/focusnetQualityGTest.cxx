/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The quality signals on arrays small enough to count by hand (tests/quality compares them with scipy on real
// results).
#include "focusnetQuality.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace
{
using focusnet::Components;
using focusnet::CountComponents;

Components
Count(const std::vector<std::uint8_t> & labels, std::int64_t width, std::int64_t height, std::int64_t depth = 1)
{
  EXPECT_EQ(labels.size(), static_cast<std::size_t>(width * height * depth));
  return CountComponents(labels.data(), { width, height, depth });
}

double
Entropy(double p)
{
  return -(p * std::log2(p) + (1 - p) * std::log2(1 - p));
}
} // namespace

TEST(FocusNetQuality, ComponentsShareAFaceNotACorner)
{
  EXPECT_EQ(Count({ 0, 0, 0, 0 }, 2, 2).count, 0U);
  const Components diagonal = Count({ 1, 0, 0, 1 }, 2, 2);
  EXPECT_EQ(diagonal.count, 2U);
  EXPECT_EQ(diagonal.labelVoxels, 2U);
  EXPECT_EQ(diagonal.outsideLargest, 0U); // two parts are kept
}

TEST(FocusNetQuality, ArmsThatMeetLaterAreOneComponent)
{
  // A U whose arms join only in the last row, and a W whose middle arm joins both in the last row.
  EXPECT_EQ(Count({ 1,
                    0,
                    1, //
                    1,
                    0,
                    1, //
                    1,
                    1,
                    1 },
                  3,
                  3)
              .count,
            1U);
  EXPECT_EQ(Count({ 1,
                    0,
                    1,
                    0,
                    1, //
                    1,
                    1,
                    1,
                    1,
                    1 },
                  5,
                  2)
              .count,
            1U);
}

TEST(FocusNetQuality, SlicesJoinThroughTheirFaces)
{
  // Two runs of slice 0 joined by one run of slice 1; a voxel of slice 1 under nothing of slice 0 is its own part
  // only when no neighbour in its slice joins it.
  EXPECT_EQ(Count({ 1, 0, 1, /* z = 1 */ 1, 1, 1 }, 3, 1, 2).count, 1U);
  EXPECT_EQ(Count({ 1, 0, 0, /* z = 1 */ 0, 0, 1 }, 3, 1, 2).count, 2U);
  EXPECT_EQ(Count({ 1, 0, /* z = 1 */ 0, 1 }, 2, 1, 2).count, 2U); // diagonal across slices
}

TEST(FocusNetQuality, StrayVoxelsLieOutsideTheTwoLargestParts)
{
  // Parts of 5, 3 and 1 voxels in one row.
  const Components parts = Count({ 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1 }, 11, 1);
  EXPECT_EQ(parts.count, 3U);
  EXPECT_EQ(parts.labelVoxels, 9U);
  EXPECT_EQ(parts.outsideLargest, 1U);
}

TEST(FocusNetQuality, ASliceByHand)
{
  // One row: label at 0.9, 0.9; background at 0.4, 0.1, 0.1. The outline is pixel 1 (pixel 2 beside it is
  // background); the band is pixels 0-3; of those only pixel 2 (0.4, 0.971 bit) is uncertain.
  const std::vector<float>     p{ 0.9F, 0.9F, 0.4F, 0.1F, 0.1F };
  const focusnet::SliceQuality q = focusnet::MeasureSlice(p.data(), 1, 5, 0.5);
  EXPECT_EQ(q.pixels, 5U);
  EXPECT_EQ(q.labelPixels, 2U);
  EXPECT_NEAR(q.entropyBits, 2 * Entropy(0.9) + Entropy(0.4) + 2 * Entropy(0.1), 1e-5);
  EXPECT_EQ(q.outlinePixels, 4U);
  EXPECT_EQ(q.uncertainOutline, 1U);
  EXPECT_EQ(q.components, 1U);

  // A pixel of 0.5 alone: one bit, label (the threshold counts as label), and no outline (the border is none).
  const float                  half = 0.5F;
  const focusnet::SliceQuality one = focusnet::MeasureSlice(&half, 1, 1, 0.5);
  EXPECT_DOUBLE_EQ(one.entropyBits, 1.0);
  EXPECT_EQ(one.labelPixels, 1U);
  EXPECT_EQ(one.outlinePixels, 0U);
}

TEST(FocusNetQuality, IntensityQuantilesAndDistanceByHand)
{
  // 101 values 0..100 in two channels whose mean is the value: the 5k % quantile is 5k.
  std::vector<float> pixels;
  for (int v = 0; v <= 100; ++v)
  {
    pixels.push_back(static_cast<float>(v) - 10.0F);
    pixels.push_back(static_cast<float>(v) + 10.0F);
  }
  const focusnet::IntensityQuantiles q = focusnet::MeasureIntensity(pixels.data(), 101, 2);
  for (std::size_t k = 0; k < q.size(); ++k)
  {
    EXPECT_DOUBLE_EQ(q[k], 5.0 * static_cast<double>(k));
  }
  // Shifted by 10 against a reference whose 5 % - 95 % range is 90: 10 / 90.
  focusnet::IntensityQuantiles shifted = q;
  for (double & value : shifted)
  {
    value += 10.0;
  }
  EXPECT_DOUBLE_EQ(focusnet::IntensityDistance(shifted, q), 10.0 / 90.0);
  EXPECT_DOUBLE_EQ(focusnet::IntensityDistance(q, q), 0.0);
}

TEST(FocusNetQuality, InputNoiseAndAspectByHand)
{
  // A 3 x 4 slice: rows 0 0 10 10 / 0 0 10 10 / 4 4 4 4. Horizontal differences 0 10 0, 0 10 0, 0 0 0: median 0.
  // Bright above 5 (the 10s): x 2, 3 at spacing 2 -> 4, 6; y 0, 1 at spacing 3 -> 0, 3. Their spreads: x 1, y 1.5.
  const std::vector<float>     slice{ 0, 0, 10, 10, 0, 0, 10, 10, 4, 4, 4, 4 };
  const focusnet::InputQuality input = focusnet::MeasureInput(slice.data(), 3, 4, 1, { 2.0, 3.0 }, 5.0);
  EXPECT_DOUBLE_EQ(input.noise, 0.0);
  EXPECT_EQ(input.bright, (std::array<double, 5>{ 4.0, 20.0, 6.0, 104.0, 18.0 }));
  focusnet::SliceQuality quality;
  quality.input = input;
  EXPECT_DOUBLE_EQ(focusnet::SummarizeSlice(quality).inputAspect, 1.5);
  // Without a threshold no pixel is bright, and the aspect is unknown.
  quality.input = focusnet::MeasureInput(slice.data(), 3, 4, 1, { 1.0, 1.0 }, std::nan(""));
  EXPECT_TRUE(std::isnan(focusnet::SummarizeSlice(quality).inputAspect));

  // Two differences of a 1 x 3 slice of the channels' means 1, 4, -2: 3 and 6; the median of an even count is their
  // mean, 4.5.
  const std::vector<float> row{ 0, 2, 4, 4, 0, -4 };
  EXPECT_DOUBLE_EQ(focusnet::MeasureInput(row.data(), 1, 3, 2, { 1.0, 1.0 }, 0.0).noise,
                   4.5 / focusnet::NoiseFromMedianDifference);
  // 20000 rows of 2 pixels: 20000 pairs, more than the 16384 sampled, so every second pair is taken: the even rows,
  // whose difference is 1, and none of the odd rows' 100 (the median of all would be 50.5).
  std::vector<float> tall;
  for (int y = 0; y < 20000; ++y)
  {
    tall.push_back(0.0F);
    tall.push_back(y % 2 == 0 ? 1.0F : 100.0F);
  }
  EXPECT_DOUBLE_EQ(focusnet::MeasureInput(tall.data(), 20000, 2, 1, { 1.0, 1.0 }, std::nan("")).noise,
                   1.0 / focusnet::NoiseFromMedianDifference);
  // A series' noise is the median of its slices'.
  std::vector<focusnet::SliceQuality> slices(3);
  slices[0].input.noise = 7.0;
  slices[1].input.noise = 1.0;
  slices[2].input.noise = 3.0;
  EXPECT_DOUBLE_EQ(focusnet::SummarizeQuality(slices, {}).inputNoise, 3.0);
}

TEST(FocusNetQuality, NoiseAspectAndFlipsRaiseTheirFlagsWithReasons)
{
  focusnet::QualityReference reference;
  reference.present = true;
  reference.labelFractionHigh = 1.0;
  reference.intensityDistanceLimit = reference.meanEntropyLimit = reference.uncertainOutlineLimit = 1.0;
  reference.strayShareLimit = 1.0;
  focusnet::SeriesQuality quality;
  quality.slices = 1;
  quality.voxels = quality.labelVoxels = 100;
  quality.largestSliceLabel = 0.5;
  quality.intensityDistance = 0.0;
  quality.inputNoise = 300.0;
  quality.inputAspect = 1.3;
  quality.flipsMeasured = true;
  quality.flipLabelAny = 200;
  quality.flipLabelAll = 150;
  // A reference without these limits (a model file made before them) judges none of them.
  EXPECT_TRUE(focusnet::FlagQuality(quality, reference, "CT", "Lung").empty());

  reference.inputNoiseLimit = 250.0;
  reference.aspectLow = 0.5;
  reference.aspectHigh = 1.1;
  reference.flipDisagreementLimit = 0.2;
  const auto flags = focusnet::FlagQuality(quality, reference, "CT", "Lung");
  ASSERT_EQ(flags.size(), 2U);
  EXPECT_EQ(flags[0].name, "out-of-distribution");
  EXPECT_EQ(flags[0].reason,
            "pixel noise 300 (limit 250); the image's bright part is 1.30 times as tall as wide, 0.50 to 1.10 in the "
            "training images (turned?)");
  EXPECT_EQ(flags[1].name, "uncertain");
  EXPECT_EQ(flags[1].reason, "the flipped copies disagree on 25.0% of the Lung (limit 20.0%)"); // (200 - 150) / 200

  quality.flipsMeasured = false; // no --tta: the disagreement is unknown, and judged by nothing
  EXPECT_TRUE(std::isnan(quality.FlipDisagreement()));
  EXPECT_EQ(focusnet::FlagNames(focusnet::FlagQuality(quality, reference, "CT", "Lung")), "out-of-distribution");
}

TEST(FocusNetQuality, WithoutAReferenceOnlyAnEmptyResultIsFlagged)
{
  focusnet::SeriesQuality empty;
  empty.slices = 3;
  empty.voxels = 300;
  const auto flags = focusnet::FlagQuality(empty, {}, "MR", "Lung");
  ASSERT_EQ(flags.size(), 1U);
  EXPECT_EQ(flags[0].name, "no-target");
  EXPECT_EQ(flags[0].reason, "no Lung in any slice");
  EXPECT_TRUE(std::isnan(empty.intensityDistance));

  focusnet::SeriesQuality labelled = empty;
  labelled.labelVoxels = 10;
  labelled.strayVoxels = 9; // far beyond any limit, but there is none
  EXPECT_TRUE(focusnet::FlagQuality(labelled, {}, "MR", "Lung").empty());
}

TEST(FocusNetQuality, CleanUpKeepsTheLargestPartsAndFillsHolesInTheirSlices)
{
  // A ring of 8 pixels around a hole, a bar of 3 and a dot.
  std::vector<std::uint8_t> labels{ 1, 1, 1, 0, 0, 1, //
                                    1, 0, 1, 0, 0, 1, //
                                    1, 1, 1, 0, 0, 1, //
                                    0, 0, 0, 0, 0, 0, //
                                    0, 0, 0, 0, 1, 0 };
  // Keeping 2 removes the dot only; filling labels the ring's hole with 7.
  const auto kept = focusnet::ApplyCleanUp(labels.data(), { 6, 5, 1 }, 2, { 2, true }, 7);
  EXPECT_EQ(kept, 12U);
  EXPECT_EQ(labels[7], 7);         // the hole
  EXPECT_EQ(labels[4 * 6 + 4], 0); // the dot
  EXPECT_EQ(labels[5], 1);         // the bar
  // Off does nothing; keeping one leaves the ring with its hole filled.
  EXPECT_EQ(focusnet::ApplyCleanUp(labels.data(), { 6, 5, 1 }, 2, {}, 7), 12U);
  EXPECT_EQ(focusnet::ApplyCleanUp(labels.data(), { 6, 5, 1 }, 2, { 1, false }, 7), 9U);
  EXPECT_EQ(labels[5], 0);
  // A bay that reaches the border only on the right is no hole; one closed on the right is.
  std::vector<std::uint8_t> bay{ 1, 1, 1, 1, //
                                 1, 0, 0, 0, //
                                 1, 1, 1, 1 };
  EXPECT_EQ(focusnet::ApplyCleanUp(bay.data(), { 4, 3, 1 }, 2, { 0, true }, 1), 9U);
  std::reverse(bay.begin(), bay.end());
  bay[4] = 1;
  EXPECT_EQ(focusnet::ApplyCleanUp(bay.data(), { 4, 3, 1 }, 2, { 0, true }, 1), 12U);
  EXPECT_EQ(focusnet::DescribeCleanUp({ 2, true }), "keep the 2 largest components, fill holes");
  EXPECT_EQ(focusnet::DescribeCleanUp({}), "none");
}

TEST(FocusNetQuality, HolesAreFilledInTheSlicesAcrossTheSliceAxis)
{
  // A 4 x 5 x 6 volume (x, y, z) with two rings of 8 voxels: A in the plane x = 1 around (y, z) = (1, 1), B in the
  // plane y = 4 around (x, z) = (2, 4). Each has a hole only in slices across its own plane's axis.
  const std::int64_t        width = 4, height = 5, depth = 6;
  std::vector<std::uint8_t> volume(width * height * depth, 0);
  auto                      at = [&volume](std::int64_t x, std::int64_t y, std::int64_t z) -> std::uint8_t &
  { return volume[(z * 5 + y) * 4 + x]; };
  for (std::int64_t a = 0; a < 3; ++a)
  {
    for (std::int64_t b = 0; b < 3; ++b)
    {
      if (a != 1 || b != 1)
      {
        at(1, a, b) = 1;         // A: y = a, z = b
        at(1 + a, 4, 3 + b) = 1; // B: x = 1 + a, z = 3 + b
      }
    }
  }
  const std::vector<std::uint8_t> rings = volume;
  EXPECT_EQ(focusnet::ApplyCleanUp(volume.data(), { width, height, depth }, 2, { 0, true }, 1), 16U);
  EXPECT_EQ(volume, rings);
  EXPECT_EQ(focusnet::ApplyCleanUp(volume.data(), { width, height, depth }, 0, { 0, true }, 1), 17U);
  EXPECT_EQ(at(1, 1, 1), 1);
  volume = rings;
  EXPECT_EQ(focusnet::ApplyCleanUp(volume.data(), { width, height, depth }, 1, { 0, true }, 1), 17U);
  EXPECT_EQ(at(2, 4, 4), 1);
  EXPECT_THROW(focusnet::ApplyCleanUp(volume.data(), { width, height, depth }, 3, { 0, true }, 1), std::exception);
}
