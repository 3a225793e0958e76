/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The focusnet command: segment, batch, dicom list, evaluate, init, info. Thin: parse, call the libraries, report.
// Each subcommand is a struct that declares its flags (Add) and does its work (Run).

#include "focusnetArchitectureArguments.h"
#include "focusnetAtomicFile.h"
#include "focusnetBatch.h"
#include "focusnetCommandLineMain.h"
#include "focusnetDicom.h"
#include "focusnetDicomNode.h"
#include "focusnetError.h"
#include "focusnetEvaluation.h"
#include "focusnetInferenceArguments.h"
#include "focusnetModel.h"
#include "focusnetOverlay.h"
#include "focusnetSegmentation.h"
#include "focusnetTerminalProgress.h"
#include "focusnetVersion.h"
#ifdef FOCUSNET_WITH_VTK
#  include "focusnetMesh.h"
#  include "focusnetSnapshot.h"
#  include "focusnetVTKImage.h"
#  define VTK_IMAGE_HELP ", .vti"
#else
#  define VTK_IMAGE_HELP ""
#endif

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace
{
using focusnet::Error;
namespace fs = std::filesystem;

constexpr const char * ModelHelp = "Model file (default: $FOCUSNET_MODEL, else the installed model)";

/** The installed default model: found relative to this executable (bin/../share/focusnet/models), so that a moved
 * or packaged prefix keeps it; the build tree keeps a copy at the same relative place. */
fs::path
InstalledModel()
{
  return (fs::path(focusnet::ExecutableFolder()) / FOCUSNET_BIN_TO_MODEL_DIR / FOCUSNET_DEFAULT_MODEL_NAME)
    .lexically_normal();
}

/** The model `--model` names, else $FOCUSNET_MODEL, else the installed default model. */
std::string
ResolveModelFile(const std::string & given)
{
  return given.empty() ? focusnet::DefaultModelFile(InstalledModel().string()) : given;
}

std::shared_ptr<const focusnet::Model>
LoadModel(const std::string & fileName)
{
  return std::make_shared<const focusnet::Model>(focusnet::Model::Load(fileName));
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
            << "clean-up:           " << focusnet::DescribeCleanUp(m.cleanUp) << '\n'
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

#ifdef FOCUSNET_WITH_VTK
/** The label map as VTK XML image data (.vti): an output of segment and batch that FocusNet::VTK writes. */
void
WriteVTKLabelMap(const itk::Image<std::uint8_t, 3> * labels, const focusnet::SegmentLabel &, const std::string & file)
{
  focusnet::WriteVTKImage(focusnet::ToVTKImage(labels), file);
}
#endif

struct SegmentCommand
{
  CLI::App *                    command{ nullptr };
  std::string                   input, output, modelFile, meshFile;
  focusnet::SegmentationOptions options;
  bool                          keepEmptyFrames{ false };
  bool                          quiet{ false };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("segment", "Segment an image file or DICOM series folder");
    command->add_option("INPUT", input, "Image file (TIFF, PNG, JPEG, NRRD, NIfTI, MHA, DICOM) or DICOM folder")
      ->required();
    command
      ->add_option("OUTPUT",
                   output,
                   "Label map (.nrrd, .nii, .nii.gz, .mha, .tif, .png" VTK_IMAGE_HELP
                   "), DICOM SEG (.dcm) or Slicer segmentation (.seg.nrrd)")
      ->required();
    command->add_option("--model", modelFile, ModelHelp);
    focusnet::AddInferenceArguments(*command, options.inference);
    command->add_option("--axis", options.sliceAxis, "Slice axis of a 3D image (default: the last)")
      ->check(CLI::Range(0, 2));
    focusnet::AddNumericOption(*command, focusnet::option::Threshold, options.threshold);
    command->add_option("--probabilities", options.probabilityFileName, "Also write the probability map here");
    command->add_option(
      "--uncertainty",
      options.uncertaintyFileName,
      "Also write each pixel's uncertainty here: the binary entropy of its probability, 0 (sure) to 1 "
      "bit");
    command->add_option(
      "--overlay", options.overlayFileName, "Also write a PNG of the (middle) slice with the outline");
#ifdef FOCUSNET_WITH_VTK
    command->add_option(
      "--mesh", meshFile, "Also write the label's surface mesh here (.vtp, .vtk, .stl, .obj, .ply; LPS)");
#endif
    command->add_option("--series-uid", options.seriesUid, "SeriesInstanceUID to read from a DICOM folder");
    command->add_option("--dicom-seg", options.dicomSegmentationFileName, "Also write a DICOM SEG here (DICOM input)");
    command->add_flag("--keep-empty-frames", keepEmptyFrames, "Keep DICOM SEG frames without label pixels");
    command->add_flag("--overwrite", options.overwrite, "Replace existing output files");
    command->add_flag("-q,--quiet", quiet, "Print nothing on success");
  }

  void
  Run()
  {
    options.dicomSegmentation.skipEmptyFrames = !keepEmptyFrames;
    const std::string modelPath = ResolveModelFile(modelFile);
    options.dicomSegmentation.modelName = fs::path(modelPath).filename().string();
    const auto                 model = LoadModel(modelPath);
    focusnet::TerminalProgress progress("segmenting");
    if (!quiet)
    {
      options.progress = [&progress](float fraction) { progress.Update(fraction); };
    }
    std::string labelMapFile = output;
#ifdef FOCUSNET_WITH_VTK
    if (!meshFile.empty())
    {
      focusnet::CheckMeshFileName(meshFile);
      options.labelMapOutputs.push_back(
        { meshFile,
          [](const itk::Image<std::uint8_t, 3> * labels, const focusnet::SegmentLabel & label, const std::string & file)
          { focusnet::WriteLabelSurface(focusnet::ToVTKImage(labels), label, {}, file); } });
    }
    if (focusnet::FormatExtension(output) == ".vti")
    {
      options.labelMapOutputs.push_back({ output, WriteVTKLabelMap });
      labelMapFile.clear();
    }
#endif
    const auto start = std::chrono::steady_clock::now();
    const auto result = focusnet::SegmentImageFile(input, labelMapFile, model, options);
    progress.Finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (quiet)
    {
      return;
    }
    const bool volume = result.source.dimension == 3;
    std::cout << output << ": " << result.labelVoxels << " " << model->Metadata().label.name
              << (volume ? " voxels (" : " pixels (") << std::fixed << std::setprecision(1)
              << result.labelVolumeMm3 / (volume ? 1000.0 : 100.0) << (volume ? " mL) in " : " cm2) in ")
              << result.slices << " slice(s), " << std::setprecision(2) << seconds << " s (" << std::setprecision(1)
              << 1000.0 * seconds / static_cast<double>(result.slices) << " ms/slice)\n"
              << output << ": " << focusnet::DescribeQuality(result.quality) << '\n';
    for (const focusnet::QualityFlag & flag : result.flags)
    {
      std::cout << output << ": flagged " << flag.name << ": " << flag.reason << '\n';
    }
  }
};

/** --jobs of focusnet batch and focusnet serve: series segmented at once, each with its share of the threads. */
void
AddJobsOption(CLI::App & command, unsigned int & jobs)
{
  command.add_option("--jobs", jobs, "Series segmented at once")->check(CLI::PositiveNumber)->capture_default_str();
}

struct BatchCommand
{
  CLI::App *             command{ nullptr };
  focusnet::BatchOptions options;
  std::string            modelFile;
  std::string            shard{ "0/1" };
  bool                   quiet{ false };
  bool                   merge{ false };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("batch", "Segment every DICOM series below a folder (resumable, shardable)");
    command->add_option("INPUT_ROOT", options.inputRoot, "Folder tree of DICOM studies")->required();
    command->add_option("OUTPUT_ROOT", options.outputRoot, "Where <study>/<series>/ output folders go")->required();
    command->add_option("--model", modelFile, ModelHelp);
    command->add_option("--modality", options.modalities, "Only series of these modalities (e.g. CT)")->delimiter(',');
    command
      ->add_option("--formats",
                   options.formats,
                   "Outputs: a label map format (nrrd, nii, nii.gz or mha), seg (DICOM SEG)"
#ifdef FOCUSNET_WITH_VTK
                   ", vti (VTK image data)"
#endif
                   )
      ->delimiter(',')
      ->capture_default_str();
    command->add_option("--shard", shard, "Take part I of N (0 <= I < N) for job arrays, e.g. $SLURM_ARRAY_TASK_ID/4")
      ->capture_default_str();
    AddJobsOption(*command, options.jobs);
    focusnet::AddInferenceArguments(*command, options.segmentation.inference);
    command->add_flag("--retry-failed", options.retryFailed, "Segment again the series an earlier run failed on");
    command->add_flag("--merge",
                      merge,
                      "Segment nothing: join what the tasks of a job array did into OUTPUT_ROOT/summary.csv; exit "
                      "non-zero when a series is missing");
    command->add_flag("-q,--quiet", quiet, "Print only the final counts");
  }

  void
  Run()
  {
    try
    {
      options.shard = focusnet::ParseShard(shard);
    }
    catch (const Error & e)
    {
      throw Error(std::string("--shard ") + e.what());
    }
    if (merge)
    {
      Merge();
      return;
    }
#ifdef FOCUSNET_WITH_VTK
    options.moreFormats["vti"] = WriteVTKLabelMap;
#endif
    options.modelFileName = ResolveModelFile(modelFile);
    const auto                 model = LoadModel(options.modelFileName);
    focusnet::TerminalProgress scanning("searching");
    focusnet::TerminalProgress progress("series");
    if (!quiet)
    {
      options.scanProgress = SearchProgress(scanning);
      options.progress = [&progress](std::size_t done, std::size_t total, const std::string & last)
      {
        if (!progress.Drawing()) // a log (a cluster job's output): one line per series
        {
          std::cerr << "series " << done << "/" << total << ": " << last << std::endl;
        }
        progress.Update(static_cast<float>(done) / static_cast<float>(std::max<std::size_t>(total, 1)),
                        std::to_string(done) + "/" + std::to_string(total) + " " + last.substr(0, 40));
      };
    }
    const focusnet::BatchReport report = focusnet::RunBatch(options, model);
    progress.Finish();
    if (!quiet)
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

  void
  Merge()
  {
    const focusnet::MergeReport report = focusnet::MergeBatch(options);
    for (const std::string & name : report.missingShardSummaries)
    {
      std::cerr << "no summary: " << name << " (that task did not finish)\n";
    }
    for (const focusnet::BatchItem & item : report.items)
    {
      if (item.status == "missing")
      {
        std::cerr << "missing: " << item.seriesUid << " (" << item.source << ")\n";
      }
    }
    const std::size_t missing = report.Count("missing");
    std::cout << report.items.size() << " series: " << report.Count("ok") << " ok, " << report.Count("partial")
              << " partial, " << report.Count("skipped") << " skipped, " << report.Count("failed") << " failed, "
              << missing << " missing\nsummary: " << report.summaryFileName << '\n';
    if (missing > 0)
    {
      throw Error(options.outputRoot + ": " + std::to_string(missing) +
                  " series missing; submit the array again to finish them");
    }
  }
};

/** Set by SIGTERM and SIGINT: the node finishes what it is doing and exits. */
std::atomic<bool> stopServing{ false };

struct ServeCommand
{
  CLI::App *               command{ nullptr };
  focusnet::NodeOptions    options;
  std::string              modelFile;
  std::vector<std::string> sendTo, allow;
  bool                     check{ false };

  /** parse(), with the flag's name in front of its error. */
  template <typename TParse>
  static auto
  Flagged(const char * flag, TParse parse)
  {
    try
    {
      return parse();
    }
    catch (const Error & e)
    {
      throw Error(std::string(flag) + " " + e.what());
    }
  }

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("serve", "Be a DICOM node: receive series by C-STORE, segment each, send the SEG on");
    command->add_option("SPOOL", options.spool, "The node's folder: what it received, made and sent")->required();
    command->add_option("--aet", options.aeTitle, "The node's AE title")->capture_default_str();
    focusnet::AddNumericOption(*command, focusnet::option::node::Port, options.port);
    command->add_option("--send-to", sendTo, "Send each DICOM SEG to AET@host:port (repeatable)");
    command->add_option("--stow",
                        options.stow,
                        "Also store each DICOM SEG by STOW-RS on this DICOMweb studies endpoint, "
                        "http(s)://host/dicom-web/studies (repeatable)");
    command->add_option("--allow",
                        allow,
                        "Accept associations only from this calling AE title, AET or AET@ADDRESS (an IPv4 address; "
                        "repeatable; default: any)");
    focusnet::AddNumericOption(*command, focusnet::option::node::Idle, options.idleSeconds);
    focusnet::AddNumericOption(*command, focusnet::option::node::MaxAssociations, options.maxAssociations);
    focusnet::AddNumericOption(*command, focusnet::option::node::MinFree, options.minFreeMegabytes);
    command->add_option("--tls-key", options.tlsKey, "DICOM TLS for every association: the node's PEM private key")
      ->check(CLI::ExistingFile);
    command->add_option("--tls-cert", options.tlsCertificate, "DICOM TLS: the node's PEM certificate")
      ->check(CLI::ExistingFile);
    command
      ->add_option("--tls-trust",
                   options.tlsTrusted,
                   "DICOM TLS: a PEM certificate (of a peer or its authority) whose peers the node accepts "
                   "(repeatable; a peer must show a certificate it signs)")
      ->check(CLI::ExistingFile);
    command->add_option("--model", modelFile, ModelHelp);
    command->add_option("--modality", options.batch.modalities, "Only series of these modalities (e.g. CT)")
      ->delimiter(',');
    AddJobsOption(*command, options.batch.jobs);
    focusnet::AddInferenceArguments(*command, options.batch.segmentation.inference);
    command->add_flag("--check", check, "Check the configuration, echo every destination (C-ECHO) and exit");
  }

  void
  Run()
  {
    for (const std::string & text : sendTo)
    {
      options.sendTo.push_back(Flagged("--send-to", [&] { return focusnet::ParseDicomPeer(text); }));
    }
    for (const std::string & text : allow)
    {
      options.allow.push_back(Flagged("--allow", [&] { return focusnet::ParseAllowedCaller(text); }));
    }
    focusnet::CheckNodeOptions(options);
    options.batch.modelFileName = ResolveModelFile(modelFile);
    const auto model = LoadModel(options.batch.modelFileName);
    if (check)
    {
      for (const focusnet::DicomPeer & peer : options.sendTo)
      {
        if (const std::string why = focusnet::EchoDicomPeer(options, peer); !why.empty())
        {
          throw Error(peer.Text() + ": no answer to C-ECHO: " + why);
        }
        std::cout << peer.Text() << ": answers C-ECHO\n";
      }
      for (const std::string & url : options.stow)
      {
        if (const std::string why = focusnet::CheckStowUrl(url); !why.empty())
        {
          throw Error(url + ": no answer to QIDO-RS: " + why);
        }
        std::cout << url << ": answers QIDO-RS\n";
      }
      std::cout << "configuration ok\n";
      return;
    }
    options.log = [](const std::string & line)
    {
      const std::time_t now = std::time(nullptr);
      std::tm           local{};
      localtime_r(&now, &local);
      std::cout << std::put_time(&local, "%Y-%m-%d %H:%M:%S ") << line << std::endl;
    };
    std::signal(SIGTERM, [](int) { stopServing = true; });
    std::signal(SIGINT, [](int) { stopServing = true; });
    focusnet::RunDicomNode(options, model, stopServing);
  }
};

struct DicomListCommand
{
  CLI::App *  command{ nullptr };
  std::string root;

  void
  Add(CLI::App & app)
  {
    CLI::App * dicom = app.add_subcommand("dicom", "DICOM tools");
    dicom->require_subcommand(1);
    command = dicom->add_subcommand("list", "List the DICOM series below a folder, with their geometry");
    command->add_option("DIR", root, "Folder to search recursively")->required();
  }

  void
  Run() const
  {
    focusnet::TerminalProgress scanning("searching");
    const focusnet::DicomScan  scan = focusnet::ScanDicomTree(root, SearchProgress(scanning));
    std::cout << "series_uid\tmodality\tdescription\tinstances\tsize\tspacing_mm\ttransfer_syntax\tfolder\tstatus\n";
    for (const focusnet::DicomSeriesInfo & s : scan.series)
    {
      std::ostringstream spacing;
      spacing << std::setprecision(4) << s.spacing[0] << "x" << s.spacing[1] << "x" << s.spacing[2];
      std::cout << (s.seriesUid.empty() ? "(none)" : s.seriesUid) << '\t' << s.modality << '\t' << s.description << '\t'
                << s.instances.size() << '\t' << s.size[0] << "x" << s.size[1] << "x" << s.size[2] << '\t'
                << spacing.str() << '\t' << focusnet::TransferSyntaxName(s.transferSyntaxUid) << '\t'
                << focusnet::SeriesFolder(s) << '\t' << Status(s) << '\n';
    }
    std::size_t unreadable = scan.unreadable.size();
    for (const focusnet::UnreadableFile & file : scan.unreadable)
    {
      std::cerr << file.path << ": " << file.reason << '\n';
    }
    for (const focusnet::DicomSeriesInfo & s : scan.series)
    {
      for (const focusnet::DicomInstance & instance : s.instances)
      {
        unreadable += instance.damage.empty() ? 0 : 1; // named in its series' status
      }
    }
    std::cerr << scan.series.size() << " series, " << unreadable << " unreadable DICOM files, " << scan.otherFiles
              << " other files skipped\n";
  }

  /** A series' status column: ok, failed (damaged files, named) or inconsistent (its geometry problem). */
  static std::string
  Status(const focusnet::DicomSeriesInfo & series)
  {
    if (series.problem.empty())
    {
      return "ok";
    }
    const std::string damaged = focusnet::DamagedFiles(series);
    return damaged.empty() ? "inconsistent: " + series.problem : "failed: " + damaged;
  }
};

struct InitCommand
{
  CLI::App *                      command{ nullptr };
  std::string                     architecture, output;
  focusnet::ArchitectureArguments arguments;
  std::uint64_t                   seed{ 0 };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("init", "Write an untrained model file (start of a training run)");
    command->add_option("ARCHITECTURE", architecture, "focusnet or unet")
      ->required()
      ->check(CLI::IsMember({ "focusnet", "unet" }));
    command->add_option("OUTPUT", output, "Model file to write")->required();
    command->add_option("--seed", seed, "Seed of the weight initialisation")->capture_default_str();
    arguments.AddTo(*command);
  }

  void
  Run() const
  {
    const auto model = focusnet::Model::Create(arguments.Metadata(architecture), seed);
    model.Save(output);
    std::cout << output << ": untrained " << architecture << ", " << Grouped(model.ParameterCount()) << " parameters\n";
  }
};

struct InfoCommand
{
  CLI::App *                      command{ nullptr };
  std::string                     source;
  focusnet::ArchitectureArguments arguments;

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("info", "Describe a model file or an architecture");
    command->add_option("MODEL_OR_ARCHITECTURE", source, "A model file, or focusnet / unet")->required();
    arguments.AddTo(*command);
  }

  void
  Run() const
  {
    if (source == "focusnet" || source == "unet")
    {
      PrintInfo(focusnet::Model::Create(arguments.Metadata(source)), source + " (untrained)");
    }
    else
    {
      PrintInfo(focusnet::Model::Load(source), source);
    }
  }
};

struct EvaluateCommand
{
  CLI::App *                 command{ nullptr };
  std::string                modelFile, images, masks, list, csv;
  focusnet::InferenceOptions options;
  bool                       overwrite{ false };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("evaluate", "Compare a model's label maps with masks");
    command->add_option("--model", modelFile, ModelHelp);
    command->add_option("--images", images, "Folder of images");
    command->add_option("--masks", masks, "Folder of masks with the same names");
    command->add_option(
      "--list", list, "Instead: a file of \"image,mask\" lines (e.g. a training run's validation.txt)");
    command->add_option("--csv", csv, "Also write per-image metrics here");
    focusnet::AddInferenceArguments(*command, options);
    command->add_flag("--overwrite", overwrite, "Replace an existing CSV file");
  }

  void
  Run() const
  {
    if (list.empty() && (images.empty() || masks.empty()))
    {
      throw Error("evaluate needs --images and --masks, or --list");
    }
    const auto pairs = list.empty() ? focusnet::FindImagePairs(images, masks) : focusnet::ReadImagePairList(list);
    if (!csv.empty())
    {
      focusnet::CheckOutputFile(csv, overwrite);
    }
    const std::string          modelPath = ResolveModelFile(modelFile);
    const focusnet::Model      model = focusnet::Model::Load(modelPath);
    focusnet::TerminalProgress progress("evaluating");
    const auto                 report =
      focusnet::Evaluate(model, pairs, options, [&progress](float fraction) { progress.Update(fraction); });
    progress.Finish();
    std::cout << "model: " << modelPath << "\n\n" << report.Markdown();
    if (!csv.empty())
    {
      report.WriteCsv(csv);
    }
  }
};

struct CalibrateCommand
{
  CLI::App *                 command{ nullptr };
  std::string                modelFile, output, training, validation, modality;
  focusnet::InferenceOptions options;
  focusnet::CleanUp          cleanUp;
  bool                       overwrite{ false }, noCleanUp{ false };
  CLI::Option *              keepOption{ nullptr };
  CLI::Option *              fillOption{ nullptr };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand(
      "calibrate", "Record a model's training data and quality limits in a copy of its file (docs/quality-control.md)");
    command->add_option("MODEL", modelFile, "The model file")->required();
    command->add_option("OUTPUT", output, "The model file to write: the same weights, with the quality reference")
      ->required();
    command->add_option("--training", training, "The training split: a file of \"image,mask\" lines")->required();
    command->add_option("--validation", validation, "The validation split, the same way")->required();
    command->add_option("--modality", modality, "The DICOM modality of the training images (e.g. CT)");
    // The clean-up: the model's own is kept unless these say otherwise.
    keepOption = command
                   ->add_option("--keep-components",
                                cleanUp.keepComponents,
                                "Clean-up the model's users get: keep the label's N largest connected components (0: "
                                "all); with --fill-holes or alone, it replaces the model's clean-up")
                   ->check(CLI::Range(std::uint32_t{ 0 }, focusnet::CleanUp::MostComponents));
    fillOption =
      command->add_flag("--fill-holes", cleanUp.fillHoles, "Clean-up: fill the holes of the label in each slice");
    command->add_flag("--no-clean-up", noCleanUp, "Remove the model's clean-up")->excludes(keepOption, fillOption);
    focusnet::AddInferenceArguments(*command, options);
    command->add_flag("--overwrite", overwrite, "Replace an existing output file");
  }

  void
  Run()
  {
    focusnet::CheckModality(modality);
    focusnet::CheckOutputFile(output, overwrite);
    const auto      trainingPairs = focusnet::ReadImagePairList(training);
    const auto      validationPairs = focusnet::ReadImagePairList(validation);
    focusnet::Model model = focusnet::Model::Load(modelFile);
    if (noCleanUp || keepOption->count() != 0 || fillOption->count() != 0)
    {
      model.SetCleanUp(cleanUp);
    }
    focusnet::TerminalProgress       progress("calibrating");
    const focusnet::QualityReference reference =
      focusnet::CalibrateQuality(model,
                                 trainingPairs,
                                 validationPairs,
                                 options,
                                 modality,
                                 "focusnet calibrate",
                                 [&progress](float fraction) { progress.Update(fraction); });
    progress.Finish();
    model.Save(output);
    std::cout << output << ": " << reference.method << "\nlimits: intensity distance "
              << reference.intensityDistanceLimit << ", mean entropy " << reference.meanEntropyLimit
              << " bit, uncertain outline " << reference.uncertainOutlineLimit << ", stray share "
              << reference.strayShareLimit << ", input noise " << reference.inputNoiseLimit << ", flip disagreement "
              << reference.flipDisagreementLimit << "; label fraction " << reference.labelFractionLow << " to "
              << reference.labelFractionHigh << ", input aspect " << reference.aspectLow << " to "
              << reference.aspectHigh << "\nclean-up: " << focusnet::DescribeCleanUp(model.Metadata().cleanUp) << '\n';
  }
};

struct OverlayCommand
{
  CLI::App *               command{ nullptr };
  std::string              image, labelMap, output, modelFile, flags;
  focusnet::OverlayOptions options;
  bool                     overwrite{ false };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("overlay", "PNG mosaic of slices with the label map's outline");
    command->add_option("IMAGE", image, "The image (file or DICOM folder)")->required();
    command->add_option("LABELMAP", labelMap, "Its label map")->required();
    command->add_option("OUTPUT", output, "PNG picture")->required();
    command->add_option("--slices", options.slices, "Slices in the mosaic, evenly spaced")
      ->check(CLI::Range(1, 400))
      ->capture_default_str();
    command->add_option("--axis", options.sliceAxis, "Slice axis of a 3D image (default: the last)")
      ->check(CLI::Range(0, 2));
    command->add_option("--model", modelFile, "The model whose label colour draws the outline (default as segment)");
    command->add_option("--flags",
                        flags,
                        "The result's quality flags, as summary.csv lists them (\"implausible-volume\"): an amber "
                        "border and their names");
    command->add_flag("--overwrite", overwrite, "Replace an existing output file");
  }

  void
  Run()
  {
    try
    {
      options.flags = focusnet::ParseFlagNames(flags);
    }
    catch (const focusnet::Error & e)
    {
      throw focusnet::Error(std::string("--flags: ") + e.what());
    }
    const auto colour = LoadModel(ResolveModelFile(modelFile))->Metadata().label.color;
    focusnet::WriteOverlayFile(image, labelMap, output, colour, options, overwrite);
    std::cout << output << '\n';
  }
};

#ifdef FOCUSNET_WITH_VTK
/** --model and --label of the commands that draw or mesh a label map: its value, name and colour. */
struct LabelArguments
{
  std::string modelFile;
  int         labelValue{ 0 };

  void
  Add(CLI::App & command, const std::string & what)
  {
    command.add_option("--model", modelFile, "The model whose label is " + what + " (default as segment)");
    command.add_option("--label", labelValue, "This label value instead of the model's")->check(CLI::Range(1, 255));
  }

  focusnet::SegmentLabel
  Label() const
  {
    focusnet::SegmentLabel label = LoadModel(ResolveModelFile(modelFile))->Metadata().label;
    if (labelValue > 0)
    {
      label.value = static_cast<std::uint8_t>(labelValue);
    }
    return label;
  }
};

void
AddSmoothingArgument(CLI::App & command, focusnet::MeshOptions & options)
{
  command.add_option("--smoothing", options.smoothingIterations, "Windowed-sinc smoothing iterations (0: none)")
    ->check(CLI::Range(0, 500))
    ->capture_default_str();
}

struct MeshCommand
{
  CLI::App *            command{ nullptr };
  std::string           labelMap, output;
  LabelArguments        label;
  focusnet::MeshOptions options;
  bool                  overwrite{ false };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("mesh", "Surface mesh of a label map (.vtp, .vtk, .stl, .obj, .ply)");
    command->add_option("LABELMAP", labelMap, "Label map (any image format FocusNet reads)")->required();
    command->add_option("OUTPUT", output, "Mesh file: .vtp, .vtk, .stl, .obj or .ply")->required();
    label.Add(*command, "meshed, named and coloured");
    AddSmoothingArgument(*command, options);
    command->add_flag("--ras", options.ras, "RAS coordinates (3D Slicer models) instead of LPS (ITK, DICOM)");
    command->add_flag("--overwrite", overwrite, "Replace an existing output file");
  }

  void
  Run() const
  {
    const focusnet::SegmentLabel segment = label.Label();
    const auto                   result = focusnet::MeshLabelMapFile(labelMap, output, segment, options, overwrite);
    std::cout << output << ": " << segment.name << ", " << result.cells << " cells, " << result.points << " points ("
              << (options.ras ? "RAS" : "LPS") << ")\n";
  }
};

struct SnapshotCommand
{
  CLI::App *                command{ nullptr };
  std::string               labelMap, output, size{ "800x800" };
  LabelArguments            label;
  focusnet::SnapshotOptions options;
  bool                      overwrite{ false };

  void
  Add(CLI::App & app)
  {
    command = app.add_subcommand("snapshot", "PNG picture of a label map's surface, rendered offscreen");
    command->add_option("LABELMAP", labelMap, "Label map (any image format FocusNet reads)")->required();
    command->add_option("OUTPUT", output, "PNG picture")->required();
    command->add_option("--image", options.image, "Show the middle slice of this image (file or DICOM folder) behind");
    command->add_option("--size", size, "Picture size in pixels, WIDTHxHEIGHT")->capture_default_str();
    label.Add(*command, "drawn in colour");
    AddSmoothingArgument(*command, options.mesh);
    command->add_flag("--overwrite", overwrite, "Replace an existing output file");
  }

  void
  Run()
  {
    char rest = 0;
    if (std::sscanf(size.c_str(), "%dx%d%c", &options.width, &options.height, &rest) != 2)
    {
      throw Error("--size " + size + ": give the picture size as WIDTHxHEIGHT, e.g. 800x600");
    }
    focusnet::SnapshotLabelMapFile(labelMap, output, label.Label(), options, overwrite);
    std::cout << output << '\n';
  }
};
#endif

int
Run(int argc, char ** argv)
{
  CLI::App app{ "FocusNet segmentation for ITK and 3D Slicer (version " + std::string(focusnet::Version) + ")",
                "focusnet" };
  app.set_version_flag("--version", std::string(focusnet::Version));
  focusnet::UseOneLineUsageErrors(app, "focusnet");
  app.require_subcommand(1);

  SegmentCommand   segment;
  BatchCommand     batch;
  DicomListCommand dicomList;
  InitCommand      init;
  InfoCommand      info;
  EvaluateCommand  evaluate;
  ServeCommand     serve;
  segment.Add(app);
  batch.Add(app);
  dicomList.Add(app);
  init.Add(app);
  info.Add(app);
  evaluate.Add(app);
  serve.Add(app);
  OverlayCommand overlay;
  overlay.Add(app);
  CalibrateCommand calibrate;
  calibrate.Add(app);
#ifdef FOCUSNET_WITH_VTK
  MeshCommand mesh;
  mesh.Add(app);
  SnapshotCommand snapshot;
  snapshot.Add(app);
#endif

  CLI11_PARSE(app, argc, argv);

  if (segment.command->parsed())
  {
    segment.Run();
  }
  else if (batch.command->parsed())
  {
    batch.Run();
  }
  else if (dicomList.command->parsed())
  {
    dicomList.Run();
  }
  else if (init.command->parsed())
  {
    init.Run();
  }
  else if (info.command->parsed())
  {
    info.Run();
  }
  else if (evaluate.command->parsed())
  {
    evaluate.Run();
  }
  else if (overlay.command->parsed())
  {
    overlay.Run();
  }
  else if (calibrate.command->parsed())
  {
    calibrate.Run();
  }
  else if (serve.command->parsed())
  {
    serve.Run();
  }
#ifdef FOCUSNET_WITH_VTK
  else if (mesh.command->parsed())
  {
    mesh.Run();
  }
  else if (snapshot.command->parsed())
  {
    snapshot.Run();
  }
#endif
  return EXIT_SUCCESS;
}
} // namespace

int
main(int argc, char ** argv)
{
  return focusnet::RunCommandLine("focusnet", Run, argc, argv);
}
