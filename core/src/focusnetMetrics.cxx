/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetMetrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace focusnet
{
namespace
{
double
Ratio(std::uint64_t numerator, std::uint64_t denominator)
{
  return denominator == 0 ? 1.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}
struct Pixel
{
  double x, y;
};

/** Foreground pixels with a background 4-neighbour or on the image border, in physical coordinates. */
std::vector<Pixel>
Outline(const std::uint8_t * mask, std::int64_t height, std::int64_t width, double spacingX, double spacingY)
{
  std::vector<Pixel> outline;
  auto               foreground = [&](std::int64_t y, std::int64_t x)
  { return y >= 0 && y < height && x >= 0 && x < width && mask[y * width + x] != 0; };
  for (std::int64_t y = 0; y < height; ++y)
  {
    for (std::int64_t x = 0; x < width; ++x)
    {
      if (foreground(y, x) &&
          !(foreground(y - 1, x) && foreground(y + 1, x) && foreground(y, x - 1) && foreground(y, x + 1)))
      {
        outline.push_back({ static_cast<double>(x) * spacingX, static_cast<double>(y) * spacingY });
      }
    }
  }
  return outline;
}

void
AppendNearestDistances(const std::vector<Pixel> & from, const std::vector<Pixel> & to, std::vector<double> & out)
{
  for (const Pixel & p : from)
  {
    double nearest = std::numeric_limits<double>::infinity();
    for (const Pixel & q : to)
    {
      nearest = std::min(nearest, (p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y));
    }
    out.push_back(std::sqrt(nearest));
  }
}
} // namespace

double
HausdorffDistance95(const std::uint8_t * a,
                    const std::uint8_t * b,
                    std::int64_t         height,
                    std::int64_t         width,
                    double               spacingX,
                    double               spacingY)
{
  const std::vector<Pixel> outlineA = Outline(a, height, width, spacingX, spacingY);
  const std::vector<Pixel> outlineB = Outline(b, height, width, spacingX, spacingY);
  if (outlineA.empty() || outlineB.empty())
  {
    return outlineA.empty() && outlineB.empty() ? 0.0 : std::numeric_limits<double>::quiet_NaN();
  }
  std::vector<double> distances;
  distances.reserve(outlineA.size() + outlineB.size());
  AppendNearestDistances(outlineA, outlineB, distances);
  AppendNearestDistances(outlineB, outlineA, distances);
  // Nearest-rank percentile.
  const auto rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(distances.size()))) - 1;
  std::nth_element(distances.begin(), distances.begin() + static_cast<std::ptrdiff_t>(rank), distances.end());
  return distances[rank];
}

ConfusionCounts
ConfusionCounts::Count(const std::uint8_t * truth, const std::uint8_t * prediction, std::size_t count)
{
  ConfusionCounts c;
  for (std::size_t i = 0; i < count; ++i)
  {
    const bool t = truth[i] != 0;
    const bool p = prediction[i] != 0;
    c.truePositives += t && p;
    c.falsePositives += !t && p;
    c.trueNegatives += !t && !p;
    c.falseNegatives += t && !p;
  }
  return c;
}

ConfusionCounts &
ConfusionCounts::operator+=(const ConfusionCounts & other)
{
  truePositives += other.truePositives;
  falsePositives += other.falsePositives;
  trueNegatives += other.trueNegatives;
  falseNegatives += other.falseNegatives;
  return *this;
}

std::uint64_t
ConfusionCounts::Total() const
{
  return truePositives + falsePositives + trueNegatives + falseNegatives;
}

double
ConfusionCounts::Dice() const
{
  return Ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives);
}

double
ConfusionCounts::Jaccard() const
{
  return Ratio(truePositives, truePositives + falsePositives + falseNegatives);
}

double
ConfusionCounts::Accuracy() const
{
  return Ratio(truePositives + trueNegatives, Total());
}

double
ConfusionCounts::Sensitivity() const
{
  return Ratio(truePositives, truePositives + falseNegatives);
}

double
ConfusionCounts::Specificity() const
{
  return Ratio(trueNegatives, trueNegatives + falsePositives);
}

} // namespace focusnet
