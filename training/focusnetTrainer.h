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
  double                 validationFraction{ 0.2 };
  std::string            outputDirectory;
  std::string            dataDescription; ///< provenance: where the data came from

  ModelMetadata model;              ///< architecture, input size, label; normalisation is computed from the data
  std::string   initModel;          ///< start from this model file (its architecture and normalisation) instead
  int           initInputSize{ 0 }; ///< with initModel: fine-tune at this input size (0: the model's own)

  int                       epochs{ 80 };
  int                       batchSize{ 8 };
  int                       epochSize{ 0 };      ///< augmented samples per epoch; 0: the number of training images
  std::string               optimizer{ "adam" }; ///< "adam", or "sgd" (Nesterov momentum)
  double                    learningRate{ 1e-3 };
  double                    momentum{ 0.9 };
  PlateauScheduler::Options plateau;

  double zoom{ 0.1 }; ///< random zoom in [1 - zoom, 1 + zoom]
  bool   flipLeftRight{ true };
  bool   flipUpDown{ true };
  double channelShift{ 0.05 }; ///< RGB only: random shift per channel, in standard deviations

  std::string   device{ option::Device.fallback };                     ///< option::Device
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
