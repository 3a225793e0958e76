/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The focusnet command: segment, batch, dicom list, evaluate, init, info. Thin: parse, call the libraries, report.

#include "focusnetArchitectureArguments.h"
#include "focusnetAtomicFile.h"
#include "focusnetBatch.h"
#include "focusnetCommandLineMain.h"
#include "focusnetDicom.h"
#include "focusnetError.h"
#include "focusnetEvaluation.h"
#include "focusnetModel.h"
#include "focusnetSegmentation.h"
#include "focusnetTerminalProgress.h"
#include "focusnetVersion.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#ifndef FOCUSNET_DEFAULT_MODEL
#  define FOCUSNET_DEFAULT_MODEL ""
#endif

namespace
{
using focusnet::Error;

/** The model `--model` names, else $FOCUSNET_MODEL, else the installed default model. */
std::string
ResolveModelFile(const std::string & given)
{
  if (!given.empty())
  {
    return given;
  }
  if (const char * environment = std::getenv("FOCUSNET_MODEL"); environment != nullptr && *environment != '\0')
  {
    return environment;
  }
  const std::string installed = FOCUSNET_DEFAULT_MODEL;
  if (installed.empty() || !std::filesystem::exists(installed))
  {
    throw Error("no default model is installed" + (installed.empty() ? std::string() : " at " + installed) +
                "; pass --model FILE (make one with: focusnet init focusnet model.fnm)");
  }
  return installed;
}

std::string
Grouped(std::int64_t value)
{
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
  {
    digits.insert(static_cast<size_t>(i), ",");
  }
  return digits;
}

/** The mirror images --tta averages over, in words. */
std::string
TtaFlips(const focusnet::Flips & flips)
{
  if (flips.leftRight && flips.upDown)
  {
    return "left-right, up-down";
  }
  if (flips.leftRight || flips.upDown)
  {
    return flips.leftRight ? "left-right" : "up-down";
  }
  return "none (--tta changes nothing)";
}

void
PrintInfo(const focusnet::Model & model, const std::string & source)
{
  const focusnet::ModelMetadata & m = model.Metadata();
  const auto                      parameters = model.ParameterCount();
  const auto                      macs = model.MultiplyAccumulatesPerSlice();
  std::cout << std::fixed << std::setprecision(2);
  std::cout << "model:              " << source << '\n'
            << "architecture:       " << m.architecture.name << " (width " << m.architecture.width << ", "
            << m.architecture.inputChannels << " input channel(s), stem " << m.architecture.attentionStemWidth
            << ", at least " << m.architecture.minimumChannels << " channels"
            << ", dropout " << focusnet::ToString(m.architecture.dropoutPlacement) << " " << m.architecture.dropoutRate
            << ")\n"
            << "input size:         " << m.inputSize << " x " << m.inputSize << '\n'
            << "parameters:         " << Grouped(parameters) << " (" << static_cast<double>(parameters) / 1e6 << " M)\n"
            << "MACs per slice:     " << Grouped(macs) << " (" << static_cast<double>(macs) / 1e9 << " G)\n"
            << "threshold:          " << m.threshold << '\n'
            << "--tta flips:        " << TtaFlips(focusnet::TrainedFlips(m)) << '\n'
            << "label:              " << m.label.name << " = " << static_cast<int>(m.label.value) << ", "
            << m.label.type.scheme << " " << m.label.type.value << " \"" << m.label.type.meaning << "\"\n"
            << "metadata:           " << focusnet::ToJson(m, 2) << '\n';
}

/** Draws the search through a folder tree (files examined of all) on a progress bar. */
std::function<void(std::size_t, std::size_t)>
SearchProgress(focusnet::TerminalProgress & bar)
{
  return [&bar](std::size_t done, std::size_t total)
  {
    bar.Update(static_cast<float>(done) / static_cast<float>(std::max<std::size_t>(total, 1)),
               std::to_string(done) + "/" + std::to_string(total) + " files");
    if (done == total)
    {
      bar.Finish();
    }
  };
}

int
Run(int argc, char ** argv)
{
  CLI::App app{ "FocusNet segmentation for ITK and 3D Slicer (version " + std::string(focusnet::Version) + ")",
                "focusnet" };
  app.set_version_flag("--version", std::string(focusnet::Version));
  app.require_subcommand(1);

  // segment
  CLI::App *                    segment = app.add_subcommand("segment", "Segment an image file or DICOM series folder");
  std::string                   input, output, modelFile;
  focusnet::SegmentationOptions options;
  bool                          quiet = false;
  segment->add_option("INPUT", input, "Image file (TIFF, PNG, JPEG, NRRD, NIfTI, MHA, DICOM) or DICOM folder")
    ->required();
  segment->add_option("OUTPUT", output, "Label map (.nrrd, .nii, .nii.gz, .mha, .tif, .png), or DICOM SEG (.dcm)")
    ->required();
  segment->add_option("--model", modelFile, "Model file (default: $FOCUSNET_MODEL, else the installed model)");
  segment->add_option("--device", options.inference.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  segment->add_option("--batch-size", options.inference.batchSize, "Slices per forward pass")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  segment->add_option("--threads", options.inference.threads, "LibTorch threads (0: all cores)")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();
  segment->add_option("--axis", options.sliceAxis, "Slice axis of a 3D image (default: the last)")
    ->check(CLI::Range(0, 2));
  segment->add_option("--threshold", options.threshold, "Probability threshold (default: the model's)")
    ->check(CLI::Range(0.0, 1.0));
  segment->add_option("--probabilities", options.probabilityFileName, "Also write the probability map here");
  segment->add_option("--overlay", options.overlayFileName, "Also write a PNG of the (middle) slice with the outline");
  segment->add_option("--series-uid", options.seriesUid, "SeriesInstanceUID to read from a DICOM folder");
  segment->add_option("--dicom-seg", options.dicomSegmentationFileName, "Also write a DICOM SEG here (DICOM input)");
  bool keepEmptyFrames = false;
  segment->add_flag("--keep-empty-frames", keepEmptyFrames, "Keep DICOM SEG frames without label pixels");
  segment->add_flag("--tta",
                    options.inference.flipAugmentation,
                    "Average over the mirror images the model was trained on (up to 3x slower)");
  segment->add_flag("--overwrite", options.overwrite, "Replace existing output files");
  segment->add_flag("-q,--quiet", quiet, "Print nothing on success");

  // batch
  CLI::App * batch = app.add_subcommand("batch", "Segment every DICOM series below a folder (resumable, shardable)");
  focusnet::BatchOptions batchOptions;
  std::string            batchModel, shard = "0/1";
  bool                   batchQuiet = false;
  batch->add_option("INPUT_ROOT", batchOptions.inputRoot, "Folder tree of DICOM studies")->required();
  batch->add_option("OUTPUT_ROOT", batchOptions.outputRoot, "Where <study>/<series>/ output folders go")->required();
  batch->add_option("--model", batchModel, "Model file (default: $FOCUSNET_MODEL, else the installed model)");
  batch->add_option("--modality", batchOptions.modalities, "Only series of these modalities (e.g. CT)")->delimiter(',');
  batch->add_option("--formats", batchOptions.formats, "Outputs: one of nrrd, nii, nii.gz, mha, and/or seg")
    ->delimiter(',')
    ->capture_default_str();
  batch->add_option("--shard", shard, "Take part I of N (0 <= I < N) for job arrays, e.g. $SLURM_ARRAY_TASK_ID/4")
    ->capture_default_str();
  batch->add_option("--jobs", batchOptions.jobs, "Series segmented at once")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  batch->add_option("--device", batchOptions.segmentation.inference.device, "auto, cpu, cuda or cuda:N")
    ->capture_default_str();
  batch->add_option("--threads", batchOptions.segmentation.inference.threads, "LibTorch threads (0: all cores)")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();
  batch->add_option("--batch-size", batchOptions.segmentation.inference.batchSize, "Slices per forward pass")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  batch->add_flag("--retry-failed", batchOptions.retryFailed, "Segment again the series an earlier run failed on");
  batch->add_flag("-q,--quiet", batchQuiet, "Print only the final counts");

  // dicom list
  CLI::App *  dicom = app.add_subcommand("dicom", "DICOM tools");
  CLI::App *  dicomList = dicom->add_subcommand("list", "List the DICOM series below a folder, with their geometry");
  std::string dicomRoot;
  dicom->require_subcommand(1);
  dicomList->add_option("DIR", dicomRoot, "Folder to search recursively")->required();

  // init
  CLI::App *  init = app.add_subcommand("init", "Write an untrained model file (start of a training run)");
  std::string architecture, initOutput;
  focusnet::ArchitectureArguments initArguments;
  std::uint64_t                   seed = 0;
  init->add_option("ARCHITECTURE", architecture, "focusnet or unet")
    ->required()
    ->check(CLI::IsMember({ "focusnet", "unet" }));
  init->add_option("OUTPUT", initOutput, "Model file to write")->required();
  init->add_option("--seed", seed, "Seed of the weight initialisation")->capture_default_str();
  initArguments.AddTo(*init);

  // info
  CLI::App *                      info = app.add_subcommand("info", "Describe a model file or an architecture");
  std::string                     infoSource;
  focusnet::ArchitectureArguments infoArguments;
  info->add_option("MODEL_OR_ARCHITECTURE", infoSource, "A model file, or focusnet / unet")->required();
  infoArguments.AddTo(*info);

  // evaluate
  CLI::App *                 evaluate = app.add_subcommand("evaluate", "Compare a model's label maps with masks");
  std::string                evaluateModel, images, masks, list, csv;
  focusnet::InferenceOptions evaluateOptions;
  evaluate->add_option("--model", evaluateModel, "Model file (default: $FOCUSNET_MODEL, else the installed model)");
  evaluate->add_option("--images", images, "Folder of images");
  evaluate->add_option("--masks", masks, "Folder of masks with the same names");
  evaluate->add_option(
    "--list", list, "Instead: a file of \"image,mask\" lines (e.g. a training run's validation.txt)");
  evaluate->add_option("--csv", csv, "Also write per-image metrics here");
  evaluate->add_option("--device", evaluateOptions.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  evaluate->add_option("--threads", evaluateOptions.threads, "LibTorch threads (0: all cores)")->capture_default_str();
  evaluate->add_flag(
    "--tta", evaluateOptions.flipAugmentation, "Average over the mirror images the model was trained on");
  bool overwriteCsv = false;
  evaluate->add_flag("--overwrite", overwriteCsv, "Replace an existing CSV file");

  CLI11_PARSE(app, argc, argv);

  if (segment->parsed())
  {
    options.dicomSegmentation.skipEmptyFrames = !keepEmptyFrames;
    const std::string modelPath = ResolveModelFile(modelFile);
    options.dicomSegmentation.modelName = std::filesystem::path(modelPath).filename().string();
    const auto                 model = std::make_shared<const focusnet::Model>(focusnet::Model::Load(modelPath));
    focusnet::TerminalProgress progress("segmenting");
    if (!quiet)
    {
      options.progress = [&progress](float fraction) { progress.Update(fraction); };
    }
    const auto start = std::chrono::steady_clock::now();
    const auto result = focusnet::SegmentImageFile(input, output, model, options);
    progress.Finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!quiet)
    {
      const bool volume = result.source.dimension == 3;
      std::cout << output << ": " << result.labelVoxels << " " << model->Metadata().label.name
                << (volume ? " voxels (" : " pixels (") << std::fixed << std::setprecision(1)
                << result.labelVolumeMm3 / (volume ? 1000.0 : 100.0) << (volume ? " mL) in " : " cm2) in ")
                << result.slices << " slice(s), " << std::setprecision(2) << seconds << " s (" << std::setprecision(1)
                << 1000.0 * seconds / static_cast<double>(result.slices) << " ms/slice)\n";
    }
  }
  else if (batch->parsed())
  {
    batchOptions.shard = focusnet::ParseShard(shard);
    batchOptions.modelFileName = ResolveModelFile(batchModel);
    const auto model = std::make_shared<const focusnet::Model>(focusnet::Model::Load(batchOptions.modelFileName));
    focusnet::TerminalProgress scanning("searching");
    focusnet::TerminalProgress progress("series");
    if (!batchQuiet)
    {
      batchOptions.scanProgress = SearchProgress(scanning);
      batchOptions.progress = [&progress](std::size_t done, std::size_t total, const std::string & last)
      {
        progress.Update(static_cast<float>(done) / static_cast<float>(std::max<std::size_t>(total, 1)),
                        std::to_string(done) + "/" + std::to_string(total) + " " + last.substr(0, 40));
      };
    }
    const focusnet::BatchReport report = focusnet::RunBatch(batchOptions, model);
    progress.Finish();
    if (!batchQuiet)
    {
      for (const focusnet::BatchItem & item : report.items)
      {
        if (item.status == "failed" || item.status == "partial")
        {
          std::cerr << item.status << ": " << (item.seriesUid.empty() ? item.source : item.seriesUid) << ": "
                    << item.reason << '\n';
        }
      }
    }
    const std::size_t segmented = report.Count("ok") + report.Count("partial");
    std::cout << report.items.size() << " series: " << report.Count("ok") << " ok, " << report.Count("partial")
              << " partial, " << report.Count("skipped") << " skipped, " << report.Count("failed") << " failed; "
              << report.otherFiles << " other files ignored; " << std::fixed << std::setprecision(1) << report.seconds
              << " s";
    if (segmented > 0)
    {
      std::cout << " (" << 60.0 * static_cast<double>(segmented) / report.seconds << " series/min)";
    }
    std::cout << "\nsummary: " << report.summaryFileName << '\n';
  }
  else if (dicomList->parsed())
  {
    focusnet::TerminalProgress scanning("searching");
    const focusnet::DicomScan  scan = focusnet::ScanDicomTree(dicomRoot, SearchProgress(scanning));
    std::cout << "series_uid\tmodality\tdescription\tinstances\tsize\tspacing_mm\ttransfer_syntax\tfolder\tstatus\n";
    for (const focusnet::DicomSeriesInfo & s : scan.series)
    {
      std::ostringstream spacing;
      spacing << std::setprecision(4) << s.spacing[0] << "x" << s.spacing[1] << "x" << s.spacing[2];
      std::cout << (s.seriesUid.empty() ? "(none)" : s.seriesUid) << '\t' << s.modality << '\t' << s.description << '\t'
                << s.instances.size() << '\t' << s.size[0] << "x" << s.size[1] << "x" << s.size[2] << '\t'
                << spacing.str() << '\t' << focusnet::TransferSyntaxName(s.transferSyntaxUid) << '\t'
                << focusnet::SeriesFolder(s) << '\t' << (s.problem.empty() ? "ok" : "inconsistent: " + s.problem)
                << '\n';
    }
    for (const focusnet::UnreadableFile & file : scan.unreadable)
    {
      std::cerr << file.path << ": " << file.reason << '\n';
    }
    std::cerr << scan.series.size() << " series, " << scan.unreadable.size() << " unreadable DICOM files, "
              << scan.otherFiles << " other files skipped\n";
  }
  else if (init->parsed())
  {
    const auto model = focusnet::Model::Create(initArguments.Metadata(architecture), seed);
    model.Save(initOutput);
    std::cout << initOutput << ": untrained " << architecture << ", " << Grouped(model.ParameterCount())
              << " parameters\n";
  }
  else if (evaluate->parsed())
  {
    if (list.empty() && (images.empty() || masks.empty()))
    {
      throw Error("evaluate needs --images and --masks, or --list");
    }
    const auto pairs = list.empty() ? focusnet::FindImagePairs(images, masks) : focusnet::ReadImagePairList(list);
    if (!csv.empty())
    {
      focusnet::CheckOutputFile(csv, overwriteCsv);
    }
    const std::string          modelPath = ResolveModelFile(evaluateModel);
    const focusnet::Model      model = focusnet::Model::Load(modelPath);
    focusnet::TerminalProgress progress("evaluating");
    const auto                 report =
      focusnet::Evaluate(model, pairs, evaluateOptions, [&progress](float fraction) { progress.Update(fraction); });
    progress.Finish();
    std::cout << "model: " << modelPath << "\n\n" << report.Markdown();
    if (!csv.empty())
    {
      report.WriteCsv(csv);
    }
  }
  else if (info->parsed())
  {
    if (infoSource == "focusnet" || infoSource == "unet")
    {
      PrintInfo(focusnet::Model::Create(infoArguments.Metadata(infoSource)), infoSource + " (untrained)");
    }
    else
    {
      PrintInfo(focusnet::Model::Load(infoSource), infoSource);
    }
  }
  return EXIT_SUCCESS;
}
} // namespace

int
main(int argc, char ** argv)
{
  return focusnet::RunCommandLine("focusnet", Run, argc, argv);
}
