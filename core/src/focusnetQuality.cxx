/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetQuality.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>

namespace focusnet
{
namespace
{
/** A run of label voxels along x: [begin, end) in its row. */
struct Run
{
  std::int64_t begin, end;
};

/** Disjoint sets of runs, by index, with path halving. */
class RunSets
{
public:
  std::size_t
  Add()
  {
    m_Parent.push_back(m_Parent.size());
    return m_Parent.size() - 1;
  }
  std::size_t
  Find(std::size_t i)
  {
    while (m_Parent[i] != i)
    {
      m_Parent[i] = m_Parent[m_Parent[i]];
      i = m_Parent[i];
    }
    return i;
  }
  void
  Join(std::size_t a, std::size_t b)
  {
    a = Find(a);
    b = Find(b);
    if (a != b)
    {
      m_Parent[std::max(a, b)] = std::min(a, b);
    }
  }

private:
  std::vector<std::size_t> m_Parent;
};

/** Joins the runs of two rows that overlap in x (face neighbours); both lists sorted, runs [first, last). */
void
JoinOverlapping(const std::vector<Run> & runs,
                std::size_t              a,
                std::size_t              aEnd,
                std::size_t              b,
                std::size_t              bEnd,
                RunSets &                sets)
{
  while (a < aEnd && b < bEnd)
  {
    if (runs[a].begin < runs[b].end && runs[b].begin < runs[a].end)
    {
      sets.Join(a, b);
    }
    // Advance the run that ends first; the other may still overlap the next one.
    if (runs[a].end < runs[b].end)
    {
      ++a;
    }
    else
    {
      ++b;
    }
  }
}

float
BinaryEntropy(float p)
{
  if (!(p > 0.0F && p < 1.0F))
  {
    return 0.0F;
  }
  return -(p * std::log2(p) + (1.0F - p) * std::log2(1.0F - p));
}

double
Share(std::uint64_t part, std::uint64_t whole)
{
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}
} // namespace

Components
CountComponents(const std::uint8_t * labels, const std::array<std::int64_t, 3> & size)
{
  const auto [width, height, depth] = size;
  if (width <= 0 || height <= 0 || depth <= 0)
  {
    return {};
  }
  const std::int64_t rows = height * depth;
  std::vector<Run>         runs;
  std::vector<std::size_t> rowFirst(static_cast<std::size_t>(rows) + 1, 0); // runs of row r: [rowFirst[r], rowFirst[r+1])
  RunSets                  sets;
  for (std::int64_t row = 0; row < rows; ++row)
  {
    rowFirst[row] = runs.size();
    const std::uint8_t * line = labels + row * width;
    for (std::int64_t x = 0; x < width;)
    {
      if (line[x] == 0)
      {
        ++x;
        continue;
      }
      const std::int64_t begin = x;
      while (x < width && line[x] != 0)
      {
        ++x;
      }
      runs.push_back({ begin, x });
      sets.Add();
    }
    const std::size_t end = runs.size();
    const std::int64_t y = row % height;
    if (y > 0)
    {
      JoinOverlapping(runs, rowFirst[row], end, rowFirst[row - 1], rowFirst[row], sets);
    }
    if (row >= height)
    {
      JoinOverlapping(runs, rowFirst[row], end, rowFirst[row - height], rowFirst[row - height + 1], sets);
    }
  }
  rowFirst[rows] = runs.size();

  std::vector<std::uint64_t> voxels(runs.size(), 0);
  Components                 result;
  for (std::size_t i = 0; i < runs.size(); ++i)
  {
    const auto length = static_cast<std::uint64_t>(runs[i].end - runs[i].begin);
    voxels[sets.Find(i)] += length;
    result.labelVoxels += length;
  }
  std::vector<std::uint64_t> sizes;
  for (std::size_t i = 0; i < runs.size(); ++i)
  {
    if (sets.Find(i) == i)
    {
      sizes.push_back(voxels[i]);
    }
  }
  result.count = sizes.size();
  const std::size_t kept = std::min(KeptParts, sizes.size());
  std::partial_sort(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(kept), sizes.end(), std::greater<>());
  result.outsideLargest =
    result.labelVoxels - std::accumulate(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(kept), std::uint64_t{ 0 });
  return result;
}

SliceQuality
MeasureSlice(const float * probabilities, std::int64_t height, std::int64_t width, double threshold)
{
  const std::size_t         pixels = static_cast<std::size_t>(height * width);
  std::vector<std::uint8_t> label(pixels);
  for (std::size_t i = 0; i < pixels; ++i)
  {
    label[i] = probabilities[i] >= threshold;
  }
  auto background = [&](std::int64_t y, std::int64_t x)
  { return y >= 0 && y < height && x >= 0 && x < width && label[y * width + x] == 0; };

  // The band: outline pixels widened by OutlineBandRadius, first along x (counted in a sliding window), then y.
  constexpr std::int64_t    r = OutlineBandRadius;
  std::vector<std::uint8_t> alongX(pixels, 0);
  for (std::int64_t y = 0; y < height; ++y)
  {
    std::int64_t last = -r - 1; // the last outline pixel of this row at or before x + r
    for (std::int64_t x = -r; x < width; ++x)
    {
      const std::int64_t ahead = x + r;
      if (ahead < width && label[y * width + ahead] != 0 &&
          (background(y - 1, ahead) || background(y + 1, ahead) || background(y, ahead - 1) ||
           background(y, ahead + 1)))
      {
        last = ahead;
      }
      if (x >= 0)
      {
        alongX[y * width + x] = last >= x - r;
      }
    }
  }

  SliceQuality quality;
  quality.pixels = pixels;
  double entropy = 0.0;
  for (std::int64_t x = 0; x < width; ++x)
  {
    std::int64_t last = -r - 1;
    for (std::int64_t y = -r; y < height; ++y)
    {
      if (y + r < height && alongX[(y + r) * width + x] != 0)
      {
        last = y + r;
      }
      if (y < 0)
      {
        continue;
      }
      const std::size_t i = static_cast<std::size_t>(y * width + x);
      const float       h = BinaryEntropy(probabilities[i]);
      entropy += h;
      if (last >= y - r)
      {
        ++quality.outlinePixels;
        quality.uncertainOutline += h >= UncertainEntropyBits;
      }
    }
  }
  quality.entropyBits = entropy;
  const Components parts = CountComponents(label.data(), { width, height, 1 });
  quality.labelPixels = parts.labelVoxels;
  quality.components = parts.count;
  quality.strayPixels = parts.outsideLargest;
  return quality;
}

double
SeriesQuality::MeanEntropy() const
{
  return voxels == 0 ? 0.0 : entropyBits / static_cast<double>(voxels);
}

double
SeriesQuality::UncertainOutlineShare() const
{
  return Share(uncertainOutline, outlineVoxels);
}

double
SeriesQuality::StrayShare() const
{
  return Share(strayVoxels, labelVoxels);
}

double
SeriesQuality::LabelSliceShare() const
{
  return Share(slicesWithLabel, slices);
}

std::vector<std::pair<std::string, double>>
SeriesQuality::Values() const
{
  return { { "mean_entropy_bits", MeanEntropy() },
           { "uncertain_outline_share", UncertainOutlineShare() },
           { "components", static_cast<double>(components) },
           { "stray_share", StrayShare() },
           { "slices_with_label", static_cast<double>(slicesWithLabel) } };
}

SeriesQuality
SummarizeQuality(const std::vector<SliceQuality> & slices, const Components & volume)
{
  SeriesQuality quality;
  quality.slices = slices.size();
  for (const SliceQuality & slice : slices)
  {
    quality.slicesWithLabel += slice.labelPixels != 0;
    quality.voxels += slice.pixels;
    quality.entropyBits += slice.entropyBits;
    quality.outlineVoxels += slice.outlinePixels;
    quality.uncertainOutline += slice.uncertainOutline;
  }
  quality.labelVoxels = volume.labelVoxels;
  quality.components = volume.count;
  quality.strayVoxels = volume.outsideLargest;
  return quality;
}

std::vector<std::pair<std::string, double>>
QualityValues(const SliceQuality & slice)
{
  return SummarizeQuality({ slice }, { slice.components, slice.labelPixels, slice.strayPixels }).Values();
}

std::string
DescribeQuality(const SeriesQuality & quality)
{
  char text[160];
  std::snprintf(text,
                sizeof(text),
                "mean entropy %.3f bit, %.1f%% of the outline uncertain, %llu component%s (%.1f%% stray)",
                quality.MeanEntropy(),
                100.0 * quality.UncertainOutlineShare(),
                static_cast<unsigned long long>(quality.components),
                quality.components == 1 ? "" : "s",
                100.0 * quality.StrayShare());
  return text;
}

} // namespace focusnet
