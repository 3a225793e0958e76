/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetTrainer.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetEvaluation.h"
#include "focusnetMetrics.h"
#include "focusnetModelImpl.h"
#include "focusnetTensorMemory.h"
#include "focusnetTensorOps.h"
#include "focusnetVersion.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <numeric>
#include <random>
#include <utility>
#include <thread>

namespace focusnet
{
namespace
{
namespace fs = std::filesystem;
using nlohmann::json;

/** Images (raw intensities) and masks resized to the network input, held in memory for the whole run. */
struct Dataset
{
  torch::Tensor            images; ///< N x C x S x S
  torch::Tensor            masks;  ///< N x 1 x S x S, 0 or 1
  std::vector<std::string> names;
};

/** Per-channel mean and standard deviation of raw intensities, accumulated over every pixel. */
struct ChannelStatistics
{
  std::vector<double> sum, squares;
  double              count{ 0 };

  void
  Add(const ImageSlice & slice)
  {
    sum.resize(static_cast<size_t>(slice.channels), 0.0);
    squares.resize(static_cast<size_t>(slice.channels), 0.0);
    for (size_t i = 0; i < slice.pixels.size(); ++i)
    {
      const double v = slice.pixels[i];
      sum[i % sum.size()] += v;
      squares[i % sum.size()] += v * v;
    }
    count += static_cast<double>(slice.pixels.size() / sum.size());
  }
  std::vector<double>
  Mean() const
  {
    std::vector<double> mean(sum.size());
    for (size_t c = 0; c < sum.size(); ++c)
    {
      mean[c] = sum[c] / count;
    }
    return mean;
  }
  std::vector<double>
  StandardDeviation() const
  {
    std::vector<double> sd(sum.size());
    for (size_t c = 0; c < sum.size(); ++c)
    {
      const double mean = sum[c] / count;
      sd[c] = std::sqrt(std::max(1e-12, squares[c] / count - mean * mean));
    }
    return sd;
  }
};

Dataset
LoadDataset(const std::vector<ImagePair> & pairs, int64_t size, int64_t channels, ChannelStatistics * statistics)
{
  std::vector<torch::Tensor> images, masks;
  Dataset                    data;
  for (const ImagePair & pair : pairs)
  {
    ImageSlice slice = ReadImagePair(pair);
    if (slice.channels != channels)
    {
      throw Error(pair.image + ": has " + std::to_string(slice.channels) + " channel(s), the model takes " +
                  std::to_string(channels));
    }
    if (statistics != nullptr)
    {
      statistics->Add(slice);
    }
    torch::Tensor image =
      torch::from_blob(slice.pixels.data(), { 1, slice.height, slice.width, slice.channels }).permute({ 0, 3, 1, 2 });
    torch::Tensor mask =
      torch::from_blob(slice.mask.data(), { 1, 1, slice.height, slice.width }, torch::kUInt8).to(torch::kFloat32);
    images.push_back(Resize(image, size, size).clone());
    masks.push_back(Resize(mask, size, size).ge(0.5).to(torch::kFloat32));
    data.names.push_back(pair.name);
  }
  data.images = torch::cat(images);
  data.masks = torch::cat(masks);
  return data;
}

/** The paper's augmentation: random zoom and flips of image and mask together, and for RGB a small random shift
 * per channel. Random numbers come from LibTorch's generator, whose state the checkpoint keeps. */
std::pair<torch::Tensor, torch::Tensor>
Augment(const torch::Tensor & images, const torch::Tensor & masks, const TrainingOptions & options)
{
  namespace F = torch::nn::functional;
  const int64_t n = images.size(0);
  const auto    sign = [&](bool enabled)
  { return enabled ? torch::where(torch::rand({ n }) < 0.5, -1.0, 1.0) : torch::ones({ n }); };
  const torch::Tensor scale = 1.0 + (torch::rand({ n }) * 2.0 - 1.0) * options.zoom;
  torch::Tensor       theta = torch::zeros({ n, 2, 3 });
  theta.select(1, 0).select(1, 0).copy_(sign(options.flipLeftRight) / scale);
  theta.select(1, 1).select(1, 1).copy_(sign(options.flipUpDown) / scale);
  const torch::Tensor grid = F::affine_grid(theta.to(images.device()), images.sizes(), false);
  const auto          sample =
    F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false);
  torch::Tensor augmented = F::grid_sample(images, grid, sample);
  torch::Tensor augmentedMasks = F::grid_sample(masks, grid, sample).ge(0.5).to(torch::kFloat32);
  if (images.size(1) == 3 && options.channelShift > 0.0)
  {
    augmented = augmented + ((torch::rand({ n, 3, 1, 1 }) * 2.0 - 1.0) * options.channelShift).to(images.device());
  }
  return { augmented, augmentedMasks };
}

void
SetLearningRate(torch::optim::Optimizer & optimizer, double rate)
{
  for (auto & group : optimizer.param_groups())
  {
    group.options().set_lr(rate);
  }
}

/** Everything needed to continue a run exactly where it stopped. */
struct Checkpoint
{
  int64_t                 epoch{ 0 };
  PlateauScheduler::State scheduler;
};

void
SaveCheckpoint(const std::string &       fileName,
               torch::nn::Module &       network,
               torch::optim::Optimizer & optimizer,
               const Checkpoint &        checkpoint)
{
  torch::serialize::OutputArchive archive, networkArchive, optimizerArchive;
  network.save(networkArchive);
  optimizer.save(optimizerArchive);
  archive.write("network", networkArchive);
  archive.write("optimizer", optimizerArchive);
  archive.write("epoch", torch::tensor(checkpoint.epoch));
  const PlateauScheduler::State & s = checkpoint.scheduler;
  archive.write("scheduler",
                torch::tensor(std::vector<double>{ s.rate,
                                                   s.best,
                                                   s.improvedBest,
                                                   static_cast<double>(s.epochsSinceImprovement),
                                                   static_cast<double>(s.epochsSinceReduction) },
                              torch::kFloat64));
  {
    auto                        generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("rng", generator.get_state());
  }
  WriteAtomically(fileName, [&](const std::string & temporary) { archive.save_to(temporary); });
}

Checkpoint
LoadCheckpoint(const std::string & fileName, torch::nn::Module & network, torch::optim::Optimizer & optimizer)
{
  Checkpoint checkpoint;
  try
  {
    torch::serialize::InputArchive archive, networkArchive, optimizerArchive;
    archive.load_from(fileName);
    archive.read("network", networkArchive);
    archive.read("optimizer", optimizerArchive);
    network.load(networkArchive);
    optimizer.load(optimizerArchive);
    torch::Tensor epoch, scheduler, rng;
    archive.read("epoch", epoch);
    archive.read("scheduler", scheduler);
    archive.read("rng", rng);
    checkpoint.epoch = epoch.item<int64_t>();
    const auto values = scheduler.accessor<double, 1>();
    checkpoint.scheduler = {
      values[0], values[1], values[2], static_cast<int>(values[3]), static_cast<int>(values[4])
    };
    auto                        generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  }
  catch (const c10::Error & e)
  {
    throw Error(fileName + ": cannot resume from this checkpoint: " + e.what_without_backtrace());
  }
  return checkpoint;
}

/** Validation loss and pooled pixel counts at network size, in eval mode. */
std::pair<double, ConfusionCounts>
Validate(nn::SegmentationNetworkImpl & network,
         const Dataset &               data,
         const ModelMetadata &         metadata,
         int                           batchSize,
         const torch::Device &         device)
{
  torch::NoGradGuard noGrad;
  network.eval();
  double          lossSum = 0.0;
  ConfusionCounts counts;
  const int64_t   n = data.images.size(0);
  for (int64_t first = 0; first < n; first += batchSize)
  {
    const int64_t       count = std::min<int64_t>(batchSize, n - first);
    const torch::Tensor x = Normalize(data.images.narrow(0, first, count).to(device), metadata.normalization);
    const torch::Tensor y = data.masks.narrow(0, first, count).to(device);
    const torch::Tensor p = torch::sigmoid(network.forward(x));
    lossSum += DiceLoss(p, y).item<double>() * static_cast<double>(count);
    const torch::Tensor truth = y.to(torch::kCPU).to(torch::kUInt8).contiguous();
    const torch::Tensor predicted = p.ge(0.5).to(torch::kCPU).to(torch::kUInt8).contiguous();
    counts += ConfusionCounts::Count(
      truth.data_ptr<std::uint8_t>(), predicted.data_ptr<std::uint8_t>(), static_cast<size_t>(truth.numel()));
  }
  return { lossSum / static_cast<double>(n), counts };
}

/** A list file as ReadImagePairList reads it, with absolute paths. */
void
WritePairList(const std::string & fileName, const std::vector<ImagePair> & pairs)
{
  std::string text = "# image,mask\n";
  for (const ImagePair & p : pairs)
  {
    text += fs::absolute(p.image).string() + ',' + fs::absolute(p.mask).string() + '\n';
  }
  WriteTextAtomically(fileName, text);
}

json
OptionsJson(const TrainingOptions & o)
{
  return { { "epochs", o.epochs },
           { "batch_size", o.batchSize },
           { "epoch_size", o.epochSize },
           { "optimizer", o.optimizer },
           { "learning_rate", o.learningRate },
           { "momentum", o.momentum },
           { "plateau",
             { { "factor", o.plateau.factor },
               { "patience", o.plateau.patience },
               { "threshold", o.plateau.threshold },
               { "early_stopping_patience", o.plateau.stopPatience } } },
           { "augmentation",
             { { "zoom", o.zoom },
               { "flip_left_right", o.flipLeftRight },
               { "flip_up_down", o.flipUpDown },
               { "channel_shift", o.channelShift } } },
           { "seed", o.seed },
           { "loss", "dice (smoothing 1)" },
           { "init_model", o.initModel } };
}
} // namespace

void
CheckTrainingOptions(const TrainingOptions & options)
{
  namespace training = option::training;
  const std::pair<const NumericOption &, double> values[] = {
    { training::Epochs, options.epochs },
    { training::BatchSize, options.batchSize },
    { training::EpochSize, options.epochSize },
    { training::LearningRate, options.learningRate },
    { training::Momentum, options.momentum },
    { training::PlateauFactor, options.plateau.factor },
    { training::PlateauPatience, options.plateau.patience },
    { training::PlateauThreshold, options.plateau.threshold },
    { training::EarlyStopping, options.plateau.stopPatience },
    { training::Zoom, options.zoom },
    { training::ChannelShift, options.channelShift },
    { training::ValidationFraction, options.validationFraction },
    { option::Threads, options.threads },
  };
  for (const auto & [description, value] : values)
  {
    CheckOption(description, value);
  }
  CheckOption(training::Optimizer, options.optimizer);
}

std::vector<EpochRecord>
Train(const TrainingOptions & options, const TrainingCallbacks & callbacks)
{
  CheckTrainingOptions(options);
  CheckModality(options.modality);
  if (options.training.empty())
  {
    throw Error("no training images");
  }
  const torch::Device device = ParseDevice(options.device); // that this machine has it
  // The model first: invalid options are refused before the output folder is touched.
  Model model = options.initModel.empty() ? Model::Create(options.model, options.seed) : Model::Load(options.initModel);
  ModelMetadata & metadata = ModelInternals::Of(model).metadata;
  if (!options.initModel.empty() && options.initInputSize > 0)
  {
    metadata.inputSize = options.initInputSize; // fully convolutional: the same weights at another size
    Validate(metadata);
  }
  const TrainingFiles files(options.outputDirectory);
  if (!options.resume && fs::exists(files.checkpoint))
  {
    throw Error(files.checkpoint + ": a training run is already here; resume it or choose another output folder",
                Error::Remedy::Resume);
  }
  if (options.resume && !fs::exists(files.checkpoint))
  {
    throw Error(files.checkpoint + ": nothing to resume");
  }
  KeepLargeTensorMemory();
  const ScopedThreadCount threadCount(options.threads);

  // The split depends on the seed alone, so a resumed run sees the same one.
  std::vector<ImagePair> training = options.training, validation = options.validation;
  if (validation.empty())
  {
    std::mt19937_64 shuffle(options.seed);
    std::shuffle(training.begin(), training.end(), shuffle);
    const auto count =
      static_cast<size_t>(std::lround(options.validationFraction * static_cast<double>(training.size())));
    if (count == 0 || count >= training.size())
    {
      throw Error("a validation fraction of " + std::to_string(options.validationFraction) + " of " +
                  std::to_string(training.size()) + " images leaves no training or no validation image");
    }
    validation.assign(training.end() - static_cast<std::ptrdiff_t>(count), training.end());
    training.resize(training.size() - count);
  }

  // Every image is read before the output folder is touched: a damaged one stops the run with nothing written.
  const int64_t     size = metadata.inputSize;
  const int64_t     channels = metadata.architecture.inputChannels;
  ChannelStatistics statistics;
  const Dataset     train = LoadDataset(training, size, channels, &statistics);
  const Dataset     valid = LoadDataset(validation, size, channels, nullptr);
  std::error_code   error;
  fs::create_directories(options.outputDirectory, error);
  if (!fs::is_directory(options.outputDirectory))
  {
    throw Error(options.outputDirectory + ": cannot create the output folder");
  }
  RemovePartialFiles(options.outputDirectory); // what a run killed while writing left
  WritePairList(files.trainingList, training);
  WritePairList(files.validationList, validation);
  if (options.initModel.empty())
  {
    metadata.normalization.kind = Normalization::Kind::MeanStd;
    metadata.normalization.mean = statistics.Mean();
    metadata.normalization.standardDeviation = statistics.StandardDeviation();
  }

  auto & network = *ModelInternals::Of(model).network;
  network.to(device);
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (options.optimizer == "adam")
  {
    optimizer =
      std::make_unique<torch::optim::Adam>(network.parameters(), torch::optim::AdamOptions(options.learningRate));
  }
  else // "sgd" (CheckTrainingOptions)
  {
    optimizer = std::make_unique<torch::optim::SGD>(
      network.parameters(), torch::optim::SGDOptions(options.learningRate).momentum(options.momentum).nesterov(true));
  }

  torch::manual_seed(options.seed);
  PlateauScheduler         scheduler(options.plateau, options.learningRate);
  std::vector<EpochRecord> records;
  int64_t                  firstEpoch = 1;
  if (options.resume)
  {
    const Checkpoint checkpoint = LoadCheckpoint(files.checkpoint, network, *optimizer);
    scheduler.SetState(checkpoint.scheduler);
    firstEpoch = checkpoint.epoch + 1;
    if (fs::exists(files.log))
    {
      for (const EpochRecord & r : ReadTrainingLog(files.log))
      {
        if (r.epoch <= checkpoint.epoch)
        {
          records.push_back(r);
        }
      }
    }
  }

  const int64_t trainCount = train.images.size(0);
  const int64_t epochSize = options.epochSize > 0 ? options.epochSize : trainCount;
  for (int64_t epoch = firstEpoch; epoch <= options.epochs && !scheduler.ShouldStop(); ++epoch)
  {
    const auto start = std::chrono::steady_clock::now();
    SetLearningRate(*optimizer, scheduler.Rate());
    network.train();
    // Each epoch visits the training images in a new random order, repeated up to the epoch size.
    std::vector<int64_t> order;
    while (static_cast<int64_t>(order.size()) < epochSize)
    {
      const torch::Tensor permutation = torch::randperm(trainCount, torch::kInt64);
      order.insert(order.end(), permutation.data_ptr<int64_t>(), permutation.data_ptr<int64_t>() + trainCount);
    }
    order.resize(static_cast<size_t>(epochSize));

    double lossSum = 0.0;
    for (int64_t first = 0; first < epochSize; first += options.batchSize)
    {
      const int64_t       count = std::min<int64_t>(options.batchSize, epochSize - first);
      const torch::Tensor index = torch::from_blob(order.data() + first, { count }, torch::kInt64);
      auto [images, masks] = Augment(train.images.index_select(0, index), train.masks.index_select(0, index), options);
      const torch::Tensor x = Normalize(images, metadata.normalization).to(device);
      const torch::Tensor loss = DiceLoss(torch::sigmoid(network.forward(x)), masks.to(device));
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      lossSum += loss.item<double>() * static_cast<double>(count);
      if (callbacks.progress)
      {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        callbacks.progress(static_cast<int>(epoch),
                           static_cast<float>(first + count) / static_cast<float>(epochSize),
                           lossSum / static_cast<double>(first + count),
                           static_cast<double>(first + count) / seconds);
      }
    }
    const double trainSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const auto [validationLoss, counts] = Validate(network, valid, metadata, options.batchSize, device);
    EpochRecord record;
    record.epoch = static_cast<int>(epoch);
    record.trainLoss = lossSum / static_cast<double>(epochSize);
    record.validationLoss = validationLoss;
    record.dice = counts.Dice();
    record.jaccard = counts.Jaccard();
    record.accuracy = counts.Accuracy();
    record.sensitivity = counts.Sensitivity();
    record.specificity = counts.Specificity();
    record.learningRate = scheduler.Rate();
    record.imagesPerSecond = static_cast<double>(epochSize) / trainSeconds;
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    records.push_back(record);

    const bool best = scheduler.Step(validationLoss);
    if (best)
    {
      metadata.provenanceJson = json{
        { "project_version", Version },
        { "data",
          { { "description", options.dataDescription },
            { "training_images", training.size() },
            { "validation_images", validation.size() } } },
        { "epoch", epoch },
        { "validation",
          { { "loss", validationLoss },
            { "DI", record.dice },
            { "JI", record.jaccard },
            { "AC", record.accuracy },
            { "SE", record.sensitivity },
            { "SP", record.specificity },
            { "resolution", std::to_string(size) + "x" + std::to_string(size) } } },
        { "options", OptionsJson(options) }
      }.dump();
      model.Save(files.model);
    }
    // Log first and checkpoint last: a run killed in between repeats this epoch and rewrites its line.
    WriteTrainingLog(records, files.log);
    WriteLearningCurve(records, files.learningCurve);
    SaveCheckpoint(files.checkpoint, network, *optimizer, { epoch, scheduler.GetState() });
    if (callbacks.epochDone)
    {
      callbacks.epochDone(record, best);
    }
  }
  // The best model's quality reference: what its training images looked like, and its flags' limits set on the
  // validation split (docs/quality-control.md). Measured again after a resumed run; the weights stay as saved.
  Model            best = Model::Load(files.model);
  InferenceOptions inference;
  inference.device = options.device;
  inference.threads = options.threads;
  CalibrateQuality(best, training, validation, inference, options.modality, "focusnet-train");
  best.Save(files.model);
  return records;
}

} // namespace focusnet
