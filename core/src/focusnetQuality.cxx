/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetQuality.h"

#include "focusnetError.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iterator>
#include <limits>
#include <numeric>
#include <sstream>

namespace focusnet
{
namespace
{
template <typename... T>
std::string
Format(const char * format, T... values)
{
  char text[256];
  std::snprintf(text, sizeof(text), format, values...);
  return text;
}

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

/** to[k] = 1 where from has a non-zero value at most OutlineBandRadius steps away along its line: lines of count
 * values, step apart, the lines lineStep apart (x: step 1; y: step width). */
void
WidenAlongLines(const std::uint8_t * from,
                std::uint8_t *       to,
                std::int64_t         count,
                std::int64_t         step,
                std::int64_t         lines,
                std::int64_t         lineStep)
{
  constexpr std::int64_t r = OutlineBandRadius;
  for (std::int64_t line = 0; line < lines; ++line)
  {
    const std::uint8_t * in = from + line * lineStep;
    std::uint8_t *       out = to + line * lineStep;
    std::int64_t         last = -r - 1; // the last non-zero at or before i + r
    for (std::int64_t i = -r; i < count; ++i)
    {
      if (i + r < count && in[(i + r) * step] != 0)
      {
        last = i + r;
      }
      if (i >= 0)
      {
        out[i * step] = last >= i - r;
      }
    }
  }
}


double
Share(std::uint64_t part, std::uint64_t whole)
{
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}


/** The median of values (not empty; reordered) as numpy.median gives it: the mean of the two middle values of an
 * even count. */
double
MedianOf(std::vector<double> & values)
{
  const std::size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  double median = values[middle];
  if (values.size() % 2 == 0)
  {
    median = (median + *std::max_element(values.begin(), values.begin() + middle)) / 2.0;
  }
  return median;
}

IntensityQuantiles
QuantilesOf(std::vector<double> & values)
{
  IntensityQuantiles quantiles{};
  if (values.empty())
  {
    return quantiles;
  }
  std::sort(values.begin(), values.end());
  // Linear interpolation between the closest ranks, as numpy.quantile's default.
  const double last = static_cast<double>(values.size() - 1);
  for (std::size_t q = 0; q < IntensityQuantileCount; ++q)
  {
    const double      position = last * static_cast<double>(q) / static_cast<double>(IntensityQuantileCount - 1);
    const std::size_t below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, values.size() - 1);
    const double      weight = position - static_cast<double>(below);
    quantiles[q] = values[below] + weight * (values[above] - values[below]);
  }
  return quantiles;
}
} // namespace

IntensityQuantiles
MeasureIntensity(const float * pixels, std::int64_t count, std::int64_t channels)
{
  constexpr std::int64_t samples = 16384;
  const std::int64_t     step = std::max<std::int64_t>(1, (count + samples - 1) / samples);
  std::vector<double>    values;
  values.reserve(static_cast<std::size_t>(count / step + 1));
  for (std::int64_t i = 0; i < count; i += step)
  {
    double sum = 0.0;
    for (std::int64_t c = 0; c < channels; ++c)
    {
      sum += pixels[i * channels + c];
    }
    values.push_back(sum / static_cast<double>(channels));
  }
  return QuantilesOf(values);
}

InputQuality
MeasureInput(const float *                 pixels,
             std::int64_t                  height,
             std::int64_t                  width,
             std::int64_t                  channels,
             const std::array<double, 2> & spacing,
             double                        brightAbove)
{
  InputQuality input;
  input.intensity = MeasureIntensity(pixels, height * width, channels);
  auto channelSum = [&](std::int64_t i)
  {
    double sum = 0.0;
    for (std::int64_t c = 0; c < channels; ++c)
    {
      sum += pixels[i * channels + c];
    }
    return sum;
  };
  auto value = [&](std::int64_t i) { return channelSum(i) / static_cast<double>(channels); };
  if (width > 1)
  {
    constexpr std::int64_t samples = 16384;
    const std::int64_t     pairs = height * (width - 1);
    const std::int64_t     step = std::max<std::int64_t>(1, (pairs + samples - 1) / samples);
    std::vector<double>    differences;
    differences.reserve(static_cast<std::size_t>(pairs / step + 1));
    for (std::int64_t k = 0; k < pairs; k += step)
    {
      const std::int64_t i = k / (width - 1) * width + k % (width - 1); // the pair's left pixel
      differences.push_back(std::abs(value(i + 1) - value(i)));
    }
    input.noise = MedianOf(differences) / NoiseFromMedianDifference;
  }
  if (!std::isnan(brightAbove))
  {
    const double brightSum = brightAbove * static_cast<double>(channels); // the mean above it, without dividing
    for (std::int64_t y = 0; y < height; ++y)
    {
      double count = 0.0, sumX = 0.0, sumXX = 0.0; // of the row, in pixels
      for (std::int64_t x = 0; x < width; ++x)
      {
        if (channelSum(y * width + x) > brightSum)
        {
          const auto px = static_cast<double>(x);
          count += 1.0;
          sumX += px;
          sumXX += px * px;
        }
      }
      const double py = static_cast<double>(y) * spacing[1];
      input.bright[0] += count;
      input.bright[1] += sumX * spacing[0];
      input.bright[2] += count * py;
      input.bright[3] += sumXX * spacing[0] * spacing[0];
      input.bright[4] += count * py * py;
    }
  }
  return input;
}

namespace
{
/** The spread of the bright pixels up-down over their spread left-right (SeriesQuality::inputAspect). */
double
InputAspect(const std::array<double, 5> & bright)
{
  const double n = bright[0];
  if (n < 2.0)
  {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double meanX = bright[1] / n, meanY = bright[2] / n;
  const double varianceX = bright[3] / n - meanX * meanX, varianceY = bright[4] / n - meanY * meanY;
  return varianceX > 0.0 ? std::sqrt(std::max(0.0, varianceY) / varianceX) : std::numeric_limits<double>::quiet_NaN();
}

} // namespace

IntensityQuantiles
PoolQuantiles(const std::vector<IntensityQuantiles> & images)
{
  std::vector<double> values;
  for (const IntensityQuantiles & image : images)
  {
    values.insert(values.end(), image.begin(), image.end());
  }
  return QuantilesOf(values);
}

double
IntensityDistance(const IntensityQuantiles & measured, const IntensityQuantiles & reference)
{
  constexpr std::size_t first = 1, last = IntensityQuantileCount - 2; // 5 % and 95 %
  double                sum = 0.0;
  for (std::size_t q = first; q <= last; ++q)
  {
    sum += std::abs(measured[q] - reference[q]);
  }
  const double spread = std::max(reference[last] - reference[first], 1e-6);
  return sum / static_cast<double>(last - first + 1) / spread;
}

namespace
{
/** The face-connected components of the voxels of a volume that are label (or, with label false, background): runs
 * along x joined with the overlapping runs of the row above and of the row one slice before. */
struct RunComponents
{
  std::vector<Run>          runs;
  std::vector<std::int64_t> rowOf; ///< the row (y + height * z) of each run
  RunSets                   sets;

  RunComponents(const std::uint8_t * labels, const std::array<std::int64_t, 3> & size, bool label)
  {
    const auto [width, height, depth] = size;
    const std::int64_t       rows = height * depth;
    std::vector<std::size_t> rowFirst(static_cast<std::size_t>(rows), 0); // the index of each row's first run
    for (std::int64_t row = 0; row < rows; ++row)
    {
      rowFirst[row] = runs.size();
      const std::uint8_t * line = labels + row * width;
      for (std::int64_t x = 0; x < width;)
      {
        if ((line[x] != 0) != label)
        {
          ++x;
          continue;
        }
        const std::int64_t begin = x;
        while (x < width && (line[x] != 0) == label)
        {
          ++x;
        }
        runs.push_back({ begin, x });
        rowOf.push_back(row);
        sets.Add();
      }
      const std::size_t  end = runs.size();
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
  }

  /** Voxels per component, by the index of its root run (0 for runs that are not roots). */
  std::vector<std::uint64_t>
  Sizes()
  {
    std::vector<std::uint64_t> voxels(runs.size(), 0);
    for (std::size_t i = 0; i < runs.size(); ++i)
    {
      voxels[sets.Find(i)] += static_cast<std::uint64_t>(runs[i].end - runs[i].begin);
    }
    return voxels;
  }
};

/** The root runs of the largest keep components, largest first (ties: the one met first). */
std::vector<std::size_t>
LargestRoots(RunComponents & parts, const std::vector<std::uint64_t> & voxels, std::size_t keep)
{
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < parts.runs.size(); ++i)
  {
    if (parts.sets.Find(i) == i)
    {
      roots.push_back(i);
    }
  }
  keep = std::min(keep, roots.size());
  std::partial_sort(roots.begin(),
                    roots.begin() + static_cast<std::ptrdiff_t>(keep),
                    roots.end(),
                    [&voxels](std::size_t a, std::size_t b)
                    { return voxels[a] > voxels[b] || (voxels[a] == voxels[b] && a < b); });
  roots.resize(keep);
  return roots;
}

/** Labels the holes of one slice of width x height (x fastest): the background regions that touch no border. */
void
FillSliceHoles(std::uint8_t * slice, std::int64_t width, std::int64_t height, std::uint8_t value)
{
  RunComponents             background(slice, { width, height, 1 }, false);
  std::vector<std::uint8_t> open(background.runs.size(), 0);
  for (std::size_t i = 0; i < background.runs.size(); ++i)
  {
    const Run &        run = background.runs[i];
    const std::int64_t y = background.rowOf[i];
    if (run.begin == 0 || run.end == width || y == 0 || y == height - 1)
    {
      open[background.sets.Find(i)] = 1;
    }
  }
  for (std::size_t i = 0; i < background.runs.size(); ++i)
  {
    if (!open[background.sets.Find(i)])
    {
      const Run & run = background.runs[i];
      std::fill(slice + background.rowOf[i] * width + run.begin, slice + background.rowOf[i] * width + run.end, value);
    }
  }
}
} // namespace

Components
CountComponents(const std::uint8_t * labels, const std::array<std::int64_t, 3> & size)
{
  if (size[0] <= 0 || size[1] <= 0 || size[2] <= 0)
  {
    return {};
  }
  RunComponents                    parts(labels, size, true);
  const std::vector<std::uint64_t> voxels = parts.Sizes();
  Components                       result;
  result.labelVoxels = std::accumulate(voxels.begin(), voxels.end(), std::uint64_t{ 0 });
  for (std::size_t i = 0; i < parts.runs.size(); ++i)
  {
    result.count += parts.sets.Find(i) == i;
  }
  std::uint64_t kept = 0;
  for (const std::size_t root : LargestRoots(parts, voxels, KeptParts))
  {
    kept += voxels[root];
  }
  result.outsideLargest = result.labelVoxels - kept;
  return result;
}

std::uint64_t
ApplyCleanUp(std::uint8_t *                      labels,
             const std::array<std::int64_t, 3> & size,
             unsigned int                        sliceAxis,
             const CleanUp &                     recipe,
             std::uint8_t                        value)
{
  const auto [width, height, depth] = size;
  if (sliceAxis > 2)
  {
    throw Error("clean-up: slice axis " + std::to_string(sliceAxis) + " is not 0, 1 or 2");
  }
  if (width <= 0 || height <= 0 || depth <= 0)
  {
    return 0;
  }
  if (recipe.keepComponents != 0)
  {
    RunComponents                    parts(labels, size, true);
    const std::vector<std::uint64_t> voxels = parts.Sizes();
    std::vector<std::uint8_t>        kept(parts.runs.size(), 0);
    for (const std::size_t root : LargestRoots(parts, voxels, recipe.keepComponents))
    {
      kept[root] = 1;
    }
    for (std::size_t i = 0; i < parts.runs.size(); ++i)
    {
      if (!kept[parts.sets.Find(i)])
      {
        std::uint8_t * line = labels + parts.rowOf[i] * width;
        std::fill(line + parts.runs[i].begin, line + parts.runs[i].end, std::uint8_t{ 0 });
      }
    }
  }
  if (recipe.fillHoles)
  {
    if (sliceAxis == 2)
    {
      for (std::int64_t z = 0; z < depth; ++z)
      {
        FillSliceHoles(labels + z * width * height, width, height, value);
      }
    }
    else
    {
      // A slice across x or y is gathered into its own buffer (its first axis the lower of the other two), filled,
      // and put back.
      const std::int64_t        along = sliceAxis == 0 ? height : width, across = depth;
      const std::int64_t        slices = sliceAxis == 0 ? width : height;
      std::vector<std::uint8_t> slice(static_cast<std::size_t>(along * across));
      auto                      at = [&](std::int64_t s, std::int64_t a, std::int64_t c) -> std::uint8_t &
      {
        const std::int64_t x = sliceAxis == 0 ? s : a, y = sliceAxis == 0 ? a : s;
        return labels[(c * height + y) * width + x];
      };
      for (std::int64_t s = 0; s < slices; ++s)
      {
        for (std::int64_t c = 0; c < across; ++c)
        {
          for (std::int64_t a = 0; a < along; ++a)
          {
            slice[c * along + a] = at(s, a, c);
          }
        }
        FillSliceHoles(slice.data(), along, across, value);
        for (std::int64_t c = 0; c < across; ++c)
        {
          for (std::int64_t a = 0; a < along; ++a)
          {
            at(s, a, c) = slice[c * along + a];
          }
        }
      }
    }
  }
  return static_cast<std::uint64_t>(width * height * depth - std::count(labels, labels + width * height * depth, 0));
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

std::vector<std::string>
ParseFlagNames(const std::string & text)
{
  std::vector<std::string> names;
  std::istringstream       words(text);
  for (std::string name; words >> name;)
  {
    if (std::find(std::begin(QualityFlagNames), std::end(QualityFlagNames), name) == std::end(QualityFlagNames))
    {
      std::string known;
      for (const char * flag : QualityFlagNames)
      {
        known += (known.empty() ? "" : ", ") + std::string(flag);
      }
      throw Error("'" + name + "' is not a quality flag (" + known + ")");
    }
    names.push_back(name);
  }
  return names;
}

std::string
DescribeCleanUp(const CleanUp & recipe)
{
  std::string text;
  if (recipe.keepComponents != 0)
  {
    text = recipe.keepComponents == 1 ? std::string("keep the largest component")
                                      : "keep the " + std::to_string(recipe.keepComponents) + " largest components";
  }
  if (recipe.fillHoles)
  {
    text += text.empty() ? "fill holes" : ", fill holes";
  }
  return text.empty() ? "none" : text;
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

  // The band: outline pixels widened by OutlineBandRadius along x, then along y.
  std::vector<std::uint8_t> outline(pixels, 0);
  for (std::int64_t y = 0; y < height; ++y)
  {
    for (std::int64_t x = 0; x < width; ++x)
    {
      outline[y * width + x] = label[y * width + x] != 0 && (background(y - 1, x) || background(y + 1, x) ||
                                                             background(y, x - 1) || background(y, x + 1));
    }
  }
  std::vector<std::uint8_t> alongX(pixels), band(pixels);
  WidenAlongLines(outline.data(), alongX.data(), width, 1, height, width);
  WidenAlongLines(alongX.data(), band.data(), height, width, width, 1);

  SliceQuality quality;
  quality.pixels = pixels;
  double entropy = 0.0;
  for (std::size_t i = 0; i < pixels; ++i)
  {
    const float h = BinaryEntropy(probabilities[i]);
    entropy += h;
    if (band[i] != 0)
    {
      ++quality.outlinePixels;
      quality.uncertainOutline += h >= UncertainEntropyBits;
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
           { "slices_with_label", static_cast<double>(slicesWithLabel) },
           { "largest_slice_label", largestSliceLabel },
           { "intensity_distance", intensityDistance },
           { "input_noise", inputNoise },
           { "input_aspect", inputAspect },
           { "flip_disagreement", FlipDisagreement() } };
}

double
SeriesQuality::FlipDisagreement() const
{
  return flipsMeasured ? Share(flipLabelAny - flipLabelAll, flipLabelAny) : std::numeric_limits<double>::quiet_NaN();
}

double
QualityReference::Median() const
{
  return present ? intensity[IntensityQuantileCount / 2] : std::numeric_limits<double>::quiet_NaN();
}

SeriesQuality
SummarizeQuality(const std::vector<SliceQuality> & slices,
                 const Components &                volume,
                 const QualityReference &          reference)
{
  SeriesQuality                   quality;
  std::vector<IntensityQuantiles> intensities;
  std::vector<double>             noise;
  std::array<double, 5>           bright{};
  quality.slices = slices.size();
  quality.flipsMeasured = !slices.empty();
  for (const SliceQuality & slice : slices)
  {
    intensities.push_back(slice.input.intensity);
    noise.push_back(slice.input.noise);
    std::transform(bright.begin(), bright.end(), slice.input.bright.begin(), bright.begin(), std::plus<>());
    quality.flipsMeasured = quality.flipsMeasured && slice.flipsMeasured;
    quality.flipLabelAny += slice.flipLabelAny;
    quality.flipLabelAll += slice.flipLabelAll;
    quality.largestSliceLabel = std::max(quality.largestSliceLabel, Share(slice.labelPixels, slice.pixels));
    quality.slicesWithLabel += slice.labelPixels != 0;
    quality.voxels += slice.pixels;
    quality.entropyBits += slice.entropyBits;
    quality.outlineVoxels += slice.outlinePixels;
    quality.uncertainOutline += slice.uncertainOutline;
  }
  quality.labelVoxels = volume.labelVoxels;
  quality.components = volume.count;
  quality.strayVoxels = volume.outsideLargest;
  quality.intensity = PoolQuantiles(intensities);
  if (!noise.empty())
  {
    quality.inputNoise = MedianOf(noise);
  }
  quality.inputAspect = InputAspect(bright);
  if (reference.present)
  {
    quality.intensityDistance = IntensityDistance(quality.intensity, reference.intensity);
  }
  return quality;
}

std::vector<QualityFlag>
FlagQuality(const SeriesQuality &    quality,
            const QualityReference & reference,
            const std::string &      modality,
            const std::string &      label)
{
  std::vector<QualityFlag> flags;
  auto                     percent = [](double share) { return Format("%.1f%%", 100.0 * share); };
  if (quality.labelVoxels == 0)
  {
    flags.push_back({ QualityFlagNames[0], "no " + label + " in any slice" });
  }
  if (!reference.present)
  {
    return flags;
  }
  auto also = [](std::string & reasons, const std::string & reason)
  { reasons += (reasons.empty() ? "" : "; ") + reason; };
  std::string outside;
  if (!reference.modality.empty() && !modality.empty() && modality != reference.modality)
  {
    outside = "modality " + modality + ", the model was trained on " + reference.modality;
  }
  if (quality.intensityDistance > reference.intensityDistanceLimit)
  {
    also(outside,
         Format("intensities %.2f spreads from the training images' (limit %.2f; median %.0f against %.0f)",
                quality.intensityDistance,
                reference.intensityDistanceLimit,
                quality.intensity[IntensityQuantileCount / 2],
                reference.intensity[IntensityQuantileCount / 2]));
  }
  if (quality.inputNoise > reference.inputNoiseLimit)
  {
    also(outside, Format("pixel noise %.3g (limit %.3g)", quality.inputNoise, reference.inputNoiseLimit));
  }
  if (quality.inputAspect < reference.aspectLow || quality.inputAspect > reference.aspectHigh)
  {
    also(outside,
         Format("the image's bright part is %.2f times as tall as wide, %.2f to %.2f in the training images (turned?)",
                quality.inputAspect,
                reference.aspectLow,
                reference.aspectHigh));
  }
  if (!outside.empty())
  {
    flags.push_back({ QualityFlagNames[1], outside });
  }
  if (quality.labelVoxels != 0 && (quality.largestSliceLabel < reference.labelFractionLow ||
                                   quality.largestSliceLabel > reference.labelFractionHigh))
  {
    flags.push_back({ QualityFlagNames[2],
                      label + " covers at most " + percent(quality.largestSliceLabel) + " of a slice; " +
                        percent(reference.labelFractionLow) + " to " + percent(reference.labelFractionHigh) +
                        " in the training slices" });
  }
  std::string uncertain;
  if (quality.MeanEntropy() > reference.meanEntropyLimit)
  {
    uncertain = Format("mean entropy %.3f bit (limit %.3f)", quality.MeanEntropy(), reference.meanEntropyLimit);
  }
  if (quality.UncertainOutlineShare() > reference.uncertainOutlineLimit)
  {
    also(uncertain,
         percent(quality.UncertainOutlineShare()) + " of the outline uncertain (limit " +
           percent(reference.uncertainOutlineLimit) + ")");
  }
  if (quality.FlipDisagreement() > reference.flipDisagreementLimit)
  {
    also(uncertain,
         "the flipped copies disagree on " + percent(quality.FlipDisagreement()) + " of the " + label + " (limit " +
           percent(reference.flipDisagreementLimit) + ")");
  }
  if (!uncertain.empty())
  {
    flags.push_back({ QualityFlagNames[3], uncertain });
  }
  if (quality.StrayShare() > reference.strayShareLimit)
  {
    flags.push_back({ QualityFlagNames[4],
                      percent(quality.StrayShare()) + " of the " + label + " outside its " + std::to_string(KeptParts) +
                        " largest parts, in " + std::to_string(quality.components) + " parts (limit " +
                        percent(reference.strayShareLimit) + ")" });
  }
  return flags;
}

void
CheckModality(const std::string & modality)
{
  if (modality.size() > 16 || modality.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
  {
    throw Error("modality must be a DICOM modality such as CT or MR (capitals, at most 16), not '" + modality + "'");
  }
}

std::string
FlagNames(const std::vector<QualityFlag> & flags)
{
  std::string names;
  for (const QualityFlag & flag : flags)
  {
    names += (names.empty() ? "" : " ") + flag.name;
  }
  return names;
}

SeriesQuality
SummarizeSlice(const SliceQuality & slice, const QualityReference & reference)
{
  return SummarizeQuality({ slice }, { slice.components, slice.labelPixels, slice.strayPixels }, reference);
}

std::string
DescribeQuality(const SeriesQuality & quality)
{
  return Format("mean entropy %.3f bit, %.1f%% of the outline uncertain, %llu component%s (%.1f%% stray)",
                quality.MeanEntropy(),
                100.0 * quality.UncertainOutlineShare(),
                static_cast<unsigned long long>(quality.components),
                quality.components == 1 ? "" : "s",
                100.0 * quality.StrayShare());
}

} // namespace focusnet
