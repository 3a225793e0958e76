/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetEvaluation.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetModel.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <locale>
#include <sstream>

namespace focusnet
{
namespace
{
using Metric = double (ConfusionCounts::*)() const;

struct NamedMetric
{
  const char * name;
  Metric       metric;
};
constexpr NamedMetric Metrics[] = { { "DI", &ConfusionCounts::Dice },
                                    { "JI", &ConfusionCounts::Jaccard },
                                    { "AC", &ConfusionCounts::Accuracy },
                                    { "SE", &ConfusionCounts::Sensitivity },
                                    { "SP", &ConfusionCounts::Specificity } };

/** Mean and sample standard deviation of the finite values. */
std::pair<double, double>
MeanAndDeviation(const std::vector<double> & values)
{
  double sum = 0.0, squares = 0.0, n = 0.0;
  for (double v : values)
  {
    if (std::isfinite(v))
    {
      sum += v;
      squares += v * v;
      n += 1.0;
    }
  }
  if (n == 0.0)
  {
    return { std::nan(""), std::nan("") };
  }
  const double mean = sum / n;
  return { mean, n > 1.0 ? std::sqrt(std::max(0.0, (squares - n * mean * mean) / (n - 1.0))) : 0.0 };
}

/** What a slice's input is like, as the model's reference judges it (MeasureInput). */
InputQuality
MeasureInputOf(const ImageSlice & slice, const QualityReference & reference)
{
  return MeasureInput(slice.pixels.data(),
                      slice.height,
                      slice.width,
                      slice.channels,
                      { slice.spacing[0], slice.spacing[1] },
                      reference.Median());
}
} // namespace

EvaluationReport
Evaluate(const Model &                      model,
         const std::vector<ImagePair> &     pairs,
         const InferenceOptions &           options,
         const std::function<void(float)> & progress)
{
  const InferenceEngine                   engine(model, options);
  const InferenceEngine::ThreadCountScope threads(engine); // one thread count for every image, not set per call
  const double                            threshold = model.Metadata().threshold;
  const QualityReference &                reference = model.Metadata().quality;
  EvaluationReport                        report;
  for (size_t i = 0; i < pairs.size(); ++i)
  {
    const ImageSlice   slice = ReadImagePair(pairs[i]);
    const size_t       pixels = slice.mask.size();
    std::vector<float> probabilities(pixels);
    FlipAgreement      agreement;
    engine.Predict(slice.pixels.data(), 1, slice.height, slice.width, slice.channels, probabilities.data(), &agreement);
    std::vector<std::uint8_t> predicted(pixels);
    for (size_t p = 0; p < pixels; ++p)
    {
      predicted[p] = probabilities[p] >= threshold ? 1 : 0;
    }
    ApplyCleanUp(predicted.data(), { slice.width, slice.height, 1 }, 2, model.Metadata().cleanUp, 1); // as segment's
    ImageEvaluation evaluation;
    evaluation.name = pairs[i].name;
    evaluation.counts = ConfusionCounts::Count(slice.mask.data(), predicted.data(), pixels);
    evaluation.hausdorff95 = HausdorffDistance95(
      slice.mask.data(), predicted.data(), slice.height, slice.width, slice.spacing[0], slice.spacing[1]);
    SliceQuality quality = MeasureSlice(probabilities.data(), slice.height, slice.width, threshold);
    quality.input = MeasureInputOf(slice, reference);
    quality.flipsMeasured = agreement.measured;
    quality.flipLabelAny = static_cast<std::uint64_t>(agreement.labelledByAny);
    quality.flipLabelAll = static_cast<std::uint64_t>(agreement.labelledByAll);
    evaluation.quality = SummarizeSlice(quality, reference);
    evaluation.flags = FlagQuality(evaluation.quality, reference, {}, model.Metadata().label.name);
    report.pooled += evaluation.counts;
    report.images.push_back(evaluation);
    if (progress)
    {
      progress(static_cast<float>(i + 1) / static_cast<float>(pairs.size()));
    }
  }
  return report;
}

std::string
EvaluationReport::Markdown() const
{
  std::ostringstream text;
  text << std::fixed << std::setprecision(4);
  text << "| " << images.size() << " images |";
  for (const NamedMetric & m : Metrics)
  {
    text << ' ' << m.name << " |";
  }
  text << " HD95 |\n|---|";
  for (size_t i = 0; i <= std::size(Metrics); ++i)
  {
    text << "---|";
  }
  text << "\n| pooled over all pixels |";
  for (const NamedMetric & m : Metrics)
  {
    text << ' ' << (pooled.*m.metric)() << " |";
  }
  text << " |\n| per image, mean ± sd |";
  for (const NamedMetric & m : Metrics)
  {
    std::vector<double> values;
    for (const ImageEvaluation & e : images)
    {
      values.push_back((e.counts.*m.metric)());
    }
    const auto [mean, sd] = MeanAndDeviation(values);
    text << ' ' << mean << " ± " << sd << " |";
  }
  std::vector<double> distances;
  for (const ImageEvaluation & e : images)
  {
    distances.push_back(e.hausdorff95);
  }
  const auto [mean, sd] = MeanAndDeviation(distances);
  text << ' ' << std::setprecision(2) << mean << " ± " << sd << " |\n";
  return text.str();
}

void
EvaluationReport::WriteCsv(const std::string & fileName) const
{
  std::ostringstream csv;
  csv << std::setprecision(6) << "name,TP,FP,TN,FN,DI,JI,AC,SE,SP,HD95";
  const auto signalNames = SeriesQuality{}.Values();
  for (const auto & signal : signalNames)
  {
    csv << ',' << signal.first;
  }
  csv << ",flags\n";
  auto line = [&](const std::string & name, const ConfusionCounts & c, double hd95)
  {
    csv << name << ',' << c.truePositives << ',' << c.falsePositives << ',' << c.trueNegatives << ','
        << c.falseNegatives;
    for (const NamedMetric & m : Metrics)
    {
      csv << ',' << (c.*m.metric)();
    }
    csv << ',' << hd95;
  };
  for (const ImageEvaluation & e : images)
  {
    line(e.name, e.counts, e.hausdorff95);
    for (const auto & signal : e.quality.Values())
    {
      csv << ',';
      if (std::isfinite(signal.second))
      {
        csv << signal.second;
      }
    }
    csv << ',' << FlagNames(e.flags) << '\n';
  }
  line("(pooled)", pooled, std::nan(""));
  csv << std::string(signalNames.size() + 1, ',') << '\n';
  WriteTextAtomically(fileName, csv.str());
}

QualityReference
CalibrateQuality(Model &                            model,
                 const std::vector<ImagePair> &     training,
                 const std::vector<ImagePair> &     validation,
                 const InferenceOptions &           options,
                 const std::string &                modality,
                 const std::string &                by,
                 const std::function<void(float)> & progress)
{
  if (training.empty() || validation.empty())
  {
    throw Error("a quality reference needs training and validation images");
  }
  CheckModality(modality);
  constexpr double                Margin = QualityReference::Margin;
  QualityReference                reference;
  std::vector<IntensityQuantiles> intensities;
  double                          low = 1.0, high = 0.0;
  for (const ImagePair & pair : training) // read first: a damaged training image stops the run before inference
  {
    const ImageSlice slice = ReadImagePair(pair);
    intensities.push_back(MeasureIntensity(slice.pixels.data(), slice.height * slice.width, slice.channels));
    const auto labelled = std::count_if(slice.mask.begin(), slice.mask.end(), [](std::uint8_t v) { return v != 0; });
    if (labelled != 0)
    {
      const double fraction = static_cast<double>(labelled) / static_cast<double>(slice.mask.size());
      low = std::min(low, fraction);
      high = std::max(high, fraction);
    }
  }
  reference.present = true;
  reference.modality = modality;
  reference.intensity = PoolQuantiles(intensities);
  reference.labelFractionLow = high >= low ? low / Margin : 0.0;
  reference.labelFractionHigh = high >= low ? std::min(1.0, high * Margin) : 1.0;
  // The aspect of the training images' bright part (above their pooled median, known only now), its range widened
  // Margin times about its middle.
  double aspectLow = std::numeric_limits<double>::infinity(), aspectHigh = -aspectLow;
  for (const ImagePair & pair : training)
  {
    const ImageSlice slice = ReadImagePair(pair);
    SliceQuality     quality;
    quality.input = MeasureInputOf(slice, reference);
    const double aspect = SummarizeSlice(quality).inputAspect;
    if (std::isfinite(aspect))
    {
      aspectLow = std::min(aspectLow, aspect);
      aspectHigh = std::max(aspectHigh, aspect);
    }
  }
  if (aspectLow <= aspectHigh)
  {
    const double middle = (aspectLow + aspectHigh) / 2.0, half = Margin * (aspectHigh - aspectLow) / 2.0;
    reference.aspectLow = std::max(0.0, middle - half);
    reference.aspectHigh = middle + half;
  }
  // The limits from the validation images segmented as options say (plain unless --tta); the flips' disagreement
  // from them segmented with the flips the model was trained on: a second run where options has none.
  reference.inputNoiseLimit = 0.0;
  auto widen = [](double & limit, double value) { limit = std::max(limit, Margin * value); };
  auto flipsOf = [&](const EvaluationReport & report)
  {
    for (const ImageEvaluation & image : report.images)
    {
      if (std::isfinite(image.quality.FlipDisagreement())) // a model trained without flips has none: no limit
      {
        reference.flipDisagreementLimit =
          std::isfinite(reference.flipDisagreementLimit) ? reference.flipDisagreementLimit : 0.0;
        widen(reference.flipDisagreementLimit, image.quality.FlipDisagreement());
      }
    }
  };
  const int  runs = options.flipAugmentation ? 1 : 2;
  const auto part = [&progress, runs](int run)
  {
    return [&progress, runs, run](float fraction)
    {
      if (progress)
      {
        progress((static_cast<float>(run) + fraction) / static_cast<float>(runs));
      }
    };
  };
  const EvaluationReport asGiven = Evaluate(model, validation, options, part(0));
  for (const ImageEvaluation & image : asGiven.images)
  {
    const SeriesQuality & q = image.quality;
    widen(reference.intensityDistanceLimit, IntensityDistance(q.intensity, reference.intensity));
    widen(reference.meanEntropyLimit, q.MeanEntropy());
    widen(reference.uncertainOutlineLimit, q.UncertainOutlineShare());
    widen(reference.strayShareLimit, q.StrayShare());
    widen(reference.inputNoiseLimit, q.inputNoise);
  }
  if (options.flipAugmentation)
  {
    flipsOf(asGiven);
  }
  else
  {
    InferenceOptions withFlips = options;
    withFlips.flipAugmentation = true;
    flipsOf(Evaluate(model, validation, withFlips, part(1)));
  }
  // Shares: a limit of 1 or more would flag nothing.
  reference.uncertainOutlineLimit = std::min(1.0, reference.uncertainOutlineLimit);
  if (std::isfinite(reference.flipDisagreementLimit))
  {
    reference.flipDisagreementLimit = std::min(1.0, reference.flipDisagreementLimit);
  }
  std::ostringstream method;
  method.imbue(std::locale::classic());
  method << "intensity quantiles and label fraction from " << training.size() << " training images (label fraction "
         << low << " to " << high << ", widened " << Margin << "x; input aspect " << aspectLow << " to " << aspectHigh
         << ", widened " << Margin << "x about its middle); each limit " << Margin << "x the largest value among "
         << validation.size() << " validation images" << (options.flipAugmentation ? " segmented with flip TTA" : "")
         << (std::isfinite(reference.flipDisagreementLimit) ? " (the flips' disagreement with flip TTA)" : "") << " ("
         << by << ")";
  reference.method = method.str();
  model.SetQualityReference(reference);
  return reference;
}

} // namespace focusnet
