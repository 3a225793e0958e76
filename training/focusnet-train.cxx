/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// focusnet-train: trains FocusNet or the U-Net baseline with the paper's protocol. Thin: parse, call Train().

#include "focusnetArchitectureArguments.h"
#include "focusnetCommandLineMain.h"
#include "focusnetError.h"
#include "focusnetInferenceArguments.h"
#include "focusnetTerminalProgress.h"
#include "focusnetTrainer.h"
#include "focusnetVersion.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace
{
using namespace focusnet;

std::vector<ImagePair>
Pairs(const std::string & images, const std::string & masks, const std::string & list)
{
  if (!list.empty())
  {
    return ReadImagePairList(list);
  }
  return FindImagePairs(images, masks);
}

int
Run(int argc, char ** argv)
{
  CLI::App app{ "Train FocusNet (or the U-Net baseline) on 2D image/mask pairs with the FocusNet paper's protocol "
                "(version " +
                  std::string(Version) + ")",
                "focusnet-train" };
  app.set_version_flag("--version", std::string(Version));
  focusnet::UseOneLineUsageErrors(app, "focusnet-train");
  TrainingOptions       options;
  std::string           images, masks, list, validationImages, validationMasks, validationList;
  bool                  authorsCode = false, noFlipLeftRight = false, noFlipUpDown = false;
  ArchitectureArguments architecture;

  auto * data = app.add_option_group("data");
  data->add_option("--images", images, "Folder of images (TIFF, PNG, JPEG, DICOM; gray or RGB)");
  data->add_option("--masks", masks, "Folder of masks with the same names (0/255 or 0/1)");
  data->add_option("--list", list, "Instead: a file of \"image,mask\" lines");
  data->add_option("--val-images", validationImages, "Validation images (default: a seeded split)");
  data->add_option("--val-masks", validationMasks, "Validation masks");
  data->add_option("--val-list", validationList, "Instead: a validation list file");
  namespace training = focusnet::option::training;
  AddNumericOption(*data, training::ValidationFraction, options.validationFraction);
  app.add_option("-o,--output", options.outputDirectory, "Output folder: model.fnm, checkpoint.pt, log.csv, ...")
    ->required();

  ModelMetadata & m = options.model;
  app.add_option("--architecture", m.architecture.name, "focusnet or unet")
    ->check(CLI::IsMember({ "focusnet", "unet" }))
    ->capture_default_str();
  architecture.AddTo(app);
  app.add_option("--dropout-rate", m.architecture.dropoutRate, "Dropout rate")->capture_default_str();
  app.add_option("--init",
                 options.initModel,
                 "Start from this model file (its architecture and normalisation; with --size, train it at that size)");
  app.add_option("--label-name", m.label.name, "Name of the segmented structure")->capture_default_str();
  app.add_option("--label-code", m.label.type.value, "Its SNOMED CT code (e.g. 39607008 for Lung)")
    ->capture_default_str();
  app.add_option("--label-meaning", m.label.type.meaning, "Its code meaning")->capture_default_str();

  AddNumericOption(app, training::Epochs, options.epochs);
  AddNumericOption(app, training::BatchSize, options.batchSize);
  AddNumericOption(app, training::EpochSize, options.epochSize);
  AddWordOption(app, training::Optimizer, options.optimizer);
  AddNumericOption(app, training::LearningRate, options.learningRate);
  AddNumericOption(app, training::Momentum, options.momentum);
  AddNumericOption(app, training::PlateauFactor, options.plateau.factor);
  AddNumericOption(app, training::PlateauPatience, options.plateau.patience);
  AddNumericOption(app, training::PlateauThreshold, options.plateau.threshold);
  AddNumericOption(app, training::EarlyStopping, options.plateau.stopPatience);
  app.add_flag("--authors-code",
               authorsCode,
               "The authors' ISBI code instead of the paper: SGD 1e-3 Nesterov 0.9, factor 0.1, early stopping 10");
  AddNumericOption(app, training::Zoom, options.zoom);
  app.add_flag("--no-flip-lr", noFlipLeftRight, "No random left-right flips");
  app.add_flag("--no-flip-ud", noFlipUpDown, "No random up-down flips");
  AddNumericOption(app, training::ChannelShift, options.channelShift);
  focusnet::AddDeviceArguments(app, options.device, options.threads);
  app.add_option("--seed", options.seed, "Seed of the split, initialisation and augmentation")->capture_default_str();
  app.add_flag("--resume", options.resume, "Continue the run in the output folder from its last checkpoint");
  app.add_option("--modality", options.modality, "The DICOM modality of the images (e.g. CT), checked by the flags");

  CLI11_PARSE(app, argc, argv);

  if (list.empty() && (images.empty() || masks.empty()))
  {
    throw Error("give --images and --masks, or --list");
  }
  options.training = Pairs(images, masks, list);
  if (!validationList.empty() || !validationImages.empty())
  {
    options.validation = Pairs(validationImages, validationMasks, validationList);
  }
  options.dataDescription = list.empty() ? images + " + " + masks : list;
  architecture.ApplyTo(m);
  options.initInputSize = architecture.SizeGiven() ? architecture.inputSize : 0;
  options.flipLeftRight = !noFlipLeftRight;
  options.flipUpDown = !noFlipUpDown;
  if (authorsCode)
  {
    options.optimizer = "sgd";
    options.plateau.factor = 0.1;
    options.plateau.stopPatience = 10;
  }

  std::unique_ptr<TerminalProgress> bar;
  TrainingCallbacks                 callbacks;
  callbacks.progress = [&](int epoch, float fraction, double loss, double imagesPerSecond)
  {
    if (!bar)
    {
      bar = std::make_unique<TerminalProgress>("epoch " + std::to_string(epoch) + "/" + std::to_string(options.epochs));
    }
    char details[64];
    std::snprintf(details, sizeof(details), "loss %.4f, %.1f img/s", loss, imagesPerSecond);
    bar->Update(fraction, details);
  };
  callbacks.epochDone = [&](const EpochRecord & r, bool best)
  {
    bar.reset();
    std::printf("epoch %3d  loss %.4f  val_loss %.4f  DI %.4f  JI %.4f  AC %.4f  SE %.4f  SP %.4f  lr %.2g  %.0f s "
                "(%.1f img/s)%s\n",
                r.epoch,
                r.trainLoss,
                r.validationLoss,
                r.dice,
                r.jaccard,
                r.accuracy,
                r.sensitivity,
                r.specificity,
                r.learningRate,
                r.seconds,
                r.imagesPerSecond,
                best ? "  best" : "");
    std::fflush(stdout);
  };
  const auto          records = Train(options, callbacks);
  const TrainingFiles files(options.outputDirectory);
  std::cout << "model: " << files.model << "\nlog: " << files.log << "\nlearning curve: " << files.learningCurve << "\n"
            << records.size() << " epoch(s) recorded\n";
  return EXIT_SUCCESS;
}
} // namespace

int
main(int argc, char ** argv)
{
  return focusnet::RunCommandLine("focusnet-train", Run, argc, argv);
}
