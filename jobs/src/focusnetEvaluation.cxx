/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetEvaluation.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetModel.h"

#include <cmath>
#include <iomanip>
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
  EvaluationReport                        report;
  for (size_t i = 0; i < pairs.size(); ++i)
  {
    const ImageSlice   slice = ReadImagePair(pairs[i]);
    const size_t       pixels = slice.mask.size();
    std::vector<float> probabilities(pixels);
    engine.Predict(slice.pixels.data(), 1, slice.height, slice.width, slice.channels, probabilities.data());
    std::vector<std::uint8_t> predicted(pixels);
    for (size_t p = 0; p < pixels; ++p)
    {
      predicted[p] = probabilities[p] >= threshold ? 1 : 0;
    }
    ImageEvaluation evaluation;
    evaluation.name = pairs[i].name;
    evaluation.counts = ConfusionCounts::Count(slice.mask.data(), predicted.data(), pixels);
    evaluation.hausdorff95 = HausdorffDistance95(
      slice.mask.data(), predicted.data(), slice.height, slice.width, slice.spacing[0], slice.spacing[1]);
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
  csv << std::setprecision(6) << "name,TP,FP,TN,FN,DI,JI,AC,SE,SP,HD95\n";
  auto line = [&](const std::string & name, const ConfusionCounts & c, double hd95)
  {
    csv << name << ',' << c.truePositives << ',' << c.falsePositives << ',' << c.trueNegatives << ','
        << c.falseNegatives;
    for (const NamedMetric & m : Metrics)
    {
      csv << ',' << (c.*m.metric)();
    }
    csv << ',' << hd95 << '\n';
  };
  for (const ImageEvaluation & e : images)
  {
    line(e.name, e.counts, e.hausdorff95);
  }
  line("(pooled)", pooled, std::nan(""));
  WriteTextAtomically(fileName, csv.str());
}

} // namespace focusnet
