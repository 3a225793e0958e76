/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The training log (CSV) and its learning-curve picture (SVG). No LibTorch here.

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetTrainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

namespace focusnet
{
namespace
{
constexpr const char * LogHeader = "epoch,train_loss,val_loss,DI,JI,AC,SE,SP,lr,seconds,images_per_second";

} // namespace

TrainingFiles::TrainingFiles(const std::string & directory)
  : model((std::filesystem::path(directory) / "model.fnm").string())
  , checkpoint((std::filesystem::path(directory) / "checkpoint.pt").string())
  , log((std::filesystem::path(directory) / "log.csv").string())
  , learningCurve((std::filesystem::path(directory) / "learning-curve.svg").string())
  , trainingList((std::filesystem::path(directory) / "training.txt").string())
  , validationList((std::filesystem::path(directory) / "validation.txt").string())
{
}

void
WriteTrainingLog(const std::vector<EpochRecord> & records, const std::string & fileName)
{
  std::ostringstream text;
  text << LogHeader << '\n' << std::setprecision(10);
  for (const EpochRecord & r : records)
  {
    text << r.epoch << ',' << r.trainLoss << ',' << r.validationLoss << ',' << r.dice << ',' << r.jaccard << ','
         << r.accuracy << ',' << r.sensitivity << ',' << r.specificity << ',' << r.learningRate << ',' << r.seconds
         << ',' << r.imagesPerSecond << '\n';
  }
  WriteTextAtomically(fileName, text.str());
}

std::vector<EpochRecord>
ReadTrainingLog(const std::string & fileName)
{
  std::ifstream file(fileName);
  if (!file)
  {
    throw Error(fileName + ": cannot open training log");
  }
  std::string line;
  if (!std::getline(file, line) || line != LogHeader)
  {
    throw Error(fileName + ": not a FocusNet training log");
  }
  std::vector<EpochRecord> records;
  while (std::getline(file, line))
  {
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    EpochRecord        r;
    if (!(fields >> r.epoch >> r.trainLoss >> r.validationLoss >> r.dice >> r.jaccard >> r.accuracy >> r.sensitivity >>
          r.specificity >> r.learningRate >> r.seconds >> r.imagesPerSecond))
    {
      throw Error(fileName + ": damaged line \"" + line + "\"");
    }
    records.push_back(r);
  }
  return records;
}

void
WriteLearningCurve(const std::vector<EpochRecord> & records, const std::string & fileName)
{
  constexpr double width = 640, height = 400, left = 60, right = 60, top = 40, bottom = 50;
  const double     plotWidth = width - left - right, plotHeight = height - top - bottom;
  const int        epochs = records.empty() ? 1 : std::max(1, records.back().epoch);
  double           maxLoss = 1e-3;
  for (const EpochRecord & r : records)
  {
    maxLoss = std::max({ maxLoss, r.trainLoss, r.validationLoss });
  }
  auto x = [&](int epoch) { return left + plotWidth * epoch / epochs; };
  auto y = [&](double fraction) { return top + plotHeight * (1.0 - std::clamp(fraction, 0.0, 1.0)); };
  auto polyline = [&](const char * colour, auto value)
  {
    std::ostringstream points;
    for (const EpochRecord & r : records)
    {
      points << x(r.epoch) << ',' << y(value(r)) << ' ';
    }
    return "<polyline fill=\"none\" stroke=\"" + std::string(colour) + "\" stroke-width=\"2\" points=\"" +
           points.str() + "\"/>\n";
  };

  std::ostringstream svg;
  svg << std::fixed << std::setprecision(1);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"16\" font-size=\"14\">Training: Dice loss and validation Dice</text>\n"
      << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plotWidth << "\" height=\"" << plotHeight
      << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int i = 0; i <= 4; ++i)
  {
    const double fraction = i / 4.0;
    svg << "<text x=\"" << left - 6 << "\" y=\"" << y(fraction) + 4 << "\" text-anchor=\"end\">" << std::setprecision(3)
        << maxLoss * fraction << "</text>"
        << "<text x=\"" << width - right + 6 << "\" y=\"" << y(fraction) + 4 << "\">" << std::setprecision(2)
        << fraction << "</text>\n"
        << std::setprecision(1);
  }
  svg << "<text x=\"" << left + plotWidth / 2 << "\" y=\"" << height - 12 << "\" text-anchor=\"middle\">epoch (1.."
      << epochs << ")</text>\n"
      << "<text x=\"14\" y=\"" << top + plotHeight / 2 << "\" transform=\"rotate(-90 14 " << top + plotHeight / 2
      << ")\" text-anchor=\"middle\">Dice loss</text>\n"
      << "<text x=\"" << width - 14 << "\" y=\"" << top + plotHeight / 2 << "\" transform=\"rotate(90 " << width - 14
      << ' ' << top + plotHeight / 2 << ")\" text-anchor=\"middle\">validation Dice</text>\n";
  svg << polyline("#1f77b4", [&](const EpochRecord & r) { return r.trainLoss / maxLoss; })
      << polyline("#ff7f0e", [&](const EpochRecord & r) { return r.validationLoss / maxLoss; })
      << polyline("#2ca02c", [](const EpochRecord & r) { return r.dice; });
  svg << "<text x=\"" << left + 10 << "\" y=\"" << top - 8 << "\" fill=\"#1f77b4\">training loss</text>"
      << "<text x=\"" << left + 110 << "\" y=\"" << top - 8 << "\" fill=\"#ff7f0e\">validation loss</text>"
      << "<text x=\"" << left + 225 << "\" y=\"" << top - 8 << "\" fill=\"#2ca02c\">validation Dice</text>\n"
      << "</svg>\n";
  WriteTextAtomically(fileName, svg.str());
}

} // namespace focusnet
