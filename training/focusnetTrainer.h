/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetTrainer_h
#define focusnetTrainer_h

#include "focusnetImagePairs.h"
#include "focusnetModelMetadata.h"
#include "focusnetOptions.h"
#include "focusnetPlateauScheduler.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace focusnet
{

/** Training options; the defaults are the paper's protocol (docs/focusnet-paper.md, section 3.2). */
struct TrainingOptions
{
  std::vector<ImagePair> training;
  std::vector<ImagePair> validation; ///< empty: a seeded split of `training`
  double                 validationFraction{ option::training::ValidationFraction.fallback };
  std::string            outputDirectory;
  std::string            dataDescription; ///< provenance: where the data came from
  std::string            modality; ///< the DICOM modality of the images (e.g. "CT"), for the quality reference

  ModelMetadata model;              ///< architecture, input size, label; normalisation is computed from the data
  std::string   initModel;          ///< start from this model file (its architecture and normalisation) instead
  int           initInputSize{ 0 }; ///< with initModel: fine-tune at this input size (0: the model's own)

  // Each with its description in focusnetTrainingOptions.h (option::training), which Train checks it by.
  int         epochs{ static_cast<int>(option::training::Epochs.fallback) };
  int         batchSize{ static_cast<int>(option::training::BatchSize.fallback) };
  int         epochSize{ static_cast<int>(option::training::EpochSize.fallback) }; ///< 0: the training images
  std::string optimizer{ option::training::Optimizer.fallback }; ///< "adam", or "sgd" (Nesterov momentum)
  double      learningRate{ option::training::LearningRate.fallback };
  double      momentum{ option::training::Momentum.fallback };
  PlateauScheduler::Options plateau;

  double zoom{ option::training::Zoom.fallback }; ///< random zoom in [1 - zoom, 1 + zoom]
  bool   flipLeftRight{ true };
  bool   flipUpDown{ true };
  double channelShift{ option::training::ChannelShift.fallback }; ///< RGB only: per channel, in standard deviations

  Device        device;                                                ///< option::Device
  int           threads{ static_cast<int>(option::Threads.fallback) }; ///< option::Threads
  std::uint64_t seed{ 0 };
  bool          resume{ false }; ///< continue from outputDirectory/checkpoint.pt
};

/** One line of the training log. Validation metrics are pooled over every validation pixel at network size. */
struct EpochRecord
{
  int    epoch{ 0 };
  double trainLoss{ 0 }, validationLoss{ 0 };
  double dice{ 0 }, jaccard{ 0 }, accuracy{ 0 }, sensitivity{ 0 }, specificity{ 0 };
  double learningRate{ 0 };
  double seconds{ 0 };
  double imagesPerSecond{ 0 };
};

struct TrainingCallbacks
{
  std::function<void(int epoch, float fraction, double loss, double imagesPerSecond)> progress;
  std::function<void(const EpochRecord & record, bool best)>                          epochDone;
};

/** The files a training run keeps in its output directory. */
struct TrainingFiles
{
  explicit TrainingFiles(const std::string & directory);
  std::string model;          ///< model.fnm: the best model so far, by validation loss
  std::string checkpoint;     ///< checkpoint.pt: model, optimizer, scheduler, epoch and RNG state
  std::string log;            ///< log.csv: one EpochRecord per line
  std::string learningCurve;  ///< learning-curve.svg
  std::string trainingList;   ///< training.txt: the training pairs, as a list file (image,mask per line)
  std::string validationList; ///< validation.txt: the validation pairs, for `focusnet evaluate --list`
};

/** Throws focusnet::Error, in the words of the option's description ("learning rate must lie strictly between 0 and
 * 1, not 0"), for a value out of its range: every option of focusnetTrainingOptions.h (the plateau's too) and the
 * threads (whether this machine has the device is ParseDevice's check). Train calls it before anything else. */
void
CheckTrainingOptions(const TrainingOptions & options);

/** Trains (or resumes) and returns every epoch's record. Runs with options.threads LibTorch threads and gives the
 * caller's count back after; seeds LibTorch's global generators with options.seed (dropout and augmentation draw
 * from them), which a reproducible run needs. Throws focusnet::Error. */
std::vector<EpochRecord>
Train(const TrainingOptions & options, const TrainingCallbacks & callbacks = {});

/** Writes and reads log.csv. */
void
WriteTrainingLog(const std::vector<EpochRecord> & records, const std::string & fileName);
std::vector<EpochRecord>
ReadTrainingLog(const std::string & fileName);

/** Writes an SVG of training and validation loss and validation Dice per epoch. */
void
WriteLearningCurve(const std::vector<EpochRecord> & records, const std::string & fileName);

} // namespace focusnet

#endif
