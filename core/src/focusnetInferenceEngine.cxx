/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetInferenceEngine.h"

#include "focusnetError.h"
#include "focusnetModelImpl.h"
#include "focusnetTensorMemory.h"
#include "focusnetTensorOps.h"

#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_set>

namespace focusnet
{
namespace
{
/** Whether /proc/cpuinfo lists this CPU feature flag (false where there is no such file). */
bool
CpuHasFlag(const std::string & flag)
{
  static const std::string flags = []
  {
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);)
    {
      if (line.rfind("flags", 0) == 0)
      {
        return " " + line.substr(line.find(':') + 1) + " ";
      }
    }
    return std::string();
  }();
  return flags.find(" " + flag + " ") != std::string::npos;
}

/** The engine's speed-ups that $FOCUSNET_ENGINE_DISABLE (comma-separated names) turns off, for measuring each one:
 * fold (batch norm folded into convolutions), fuse (cuDNN convolution + ReLU), channels_last (CUDA activations
 * in NHWC), cudnn_benchmark (cuDNN's algorithm search), overlap (CUDA: filling and taking batches while the device
 * computes another). Unknown names are refused, so that a typo cannot measure the wrong thing. */
std::unordered_set<std::string>
DisabledSpeedUps()
{
  static const std::array<std::string, 5> known{ "fold", "fuse", "channels_last", "cudnn_benchmark", "overlap" };
  std::unordered_set<std::string>         disabled;
  const char *                            setting = std::getenv("FOCUSNET_ENGINE_DISABLE");
  std::istringstream                      names(setting != nullptr ? setting : "");
  for (std::string name; std::getline(names, name, ',');)
  {
    if (!name.empty() && std::find(known.begin(), known.end(), name) == known.end())
    {
      std::string message = "FOCUSNET_ENGINE_DISABLE: unknown name '" + name + "' (use " + known.front();
      for (auto k = known.begin() + 1; k != known.end(); ++k)
      {
        message += ", " + *k;
      }
      throw Error(message + ")");
    }
    disabled.insert(name);
  }
  return disabled;
}
} // namespace

struct InferenceEngine::Impl
{
  ModelMetadata                                metadata;
  InferenceOptions                             options;
  torch::Device                                device{ torch::kCPU };
  std::shared_ptr<nn::SegmentationNetworkImpl> network;
  torch::ScalarType                            dtype{ torch::kFloat };
  bool                                         channelsLast{ false }; ///< CUDA: activations in NHWC
  bool                                         overlap{ false };      ///< CUDA: PredictStream's pipeline

  Flips flips; ///< used by flip augmentation: those the model was trained on

  /** The network on a float batch, in the engine's precision; float logits. */
  torch::Tensor
  Forward(const torch::Tensor & x) const
  {
    return network->forward(x.to(dtype)).to(torch::kFloat);
  }

  /** The network's logits for a batch: of the batch itself and, with flip augmentation, of each flipped copy
   * flipped back. */
  std::vector<torch::Tensor>
  CopyLogits(const torch::Tensor & x) const
  {
    std::vector<torch::Tensor> copies{ Forward(x) };
    if (options.flipAugmentation)
    {
      for (const auto & [used, dimension] : { std::pair{ flips.leftRight, 3 }, std::pair{ flips.upDown, 2 } })
      {
        if (used)
        {
          copies.push_back(Forward(x.flip({ dimension })).flip({ dimension }));
        }
      }
    }
    return copies;
  }

  /** Raw slices (N x C x H x W, float, on the device) to their probabilities, N x H x W float on the device. With
   * flip augmentation, the probabilities averaged over the copies, as logits (log(mean p) - log(mean (1 - p)), in
   * log space so saturated maps stay finite); and, when agreement is not null, each slice's FlipAgreement in it as
   * N x 2 64-bit integers on the device, counted with threshold. */
  torch::Tensor
  Probabilities(const torch::Tensor & slices, torch::Tensor * agreement, double threshold) const
  {
    const int64_t height = slices.size(2), width = slices.size(3);
    torch::Tensor x = Resize(Normalize(slices, metadata.normalization), metadata.inputSize, metadata.inputSize);
    x = x.contiguous(channelsLast ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous);
    const std::vector<torch::Tensor> copies = CopyLogits(x);
    torch::Tensor                    logits = copies.front();
    if (copies.size() > 1)
    {
      const torch::Tensor z = torch::stack(copies);
      logits = torch::logsumexp(torch::log_sigmoid(z), 0) - torch::logsumexp(torch::log_sigmoid(-z), 0);
      if (agreement != nullptr)
      {
        const torch::Tensor labelled =
          torch::sigmoid(Resize(torch::cat(copies, 1), height, width)) >= threshold; // N x copies x H x W
        *agreement = torch::stack({ labelled.any(1).sum({ 1, 2 }), labelled.all(1).sum({ 1, 2 }) }, 1);
      }
    }
    // Resampling the logits, not the probabilities, puts the 0.5 boundary between two network pixels where the
    // network's confidence on either side says; bilinear probabilities put it midway wherever both saturate.
    return torch::sigmoid(Resize(logits, height, width)).reshape({ -1, height, width }).contiguous();
  }
};

InferenceEngine::InferenceEngine(const Model & model, const InferenceOptions & options)
  : m_Impl(std::make_unique<Impl>())
{
  CheckInferenceOptions(options);
  KeepLargeTensorMemory();
  m_Impl->metadata = model.Metadata();
  m_Impl->options = options;
  m_Impl->flips = TrainedFlips(m_Impl->metadata);
  m_Impl->device = ParseDevice(options.device);
  m_Impl->network = nn::BuildNetwork(m_Impl->metadata.architecture);
  CopyState(*ModelInternals::Of(model).network, *m_Impl->network);
  m_Impl->network->eval();

  const std::unordered_set<std::string> disabled = DisabledSpeedUps();
  const bool                            cuda = m_Impl->device.is_cuda();
  nn::InferencePreparation              preparation;
  preparation.foldBatchNorm = disabled.count("fold") == 0;
  preparation.fuseConvolutionRelu = cuda && disabled.count("fuse") == 0;
  m_Impl->network->PrepareForInference(preparation); // in float on the CPU, before any rounding
  switch (options.precision.GetFormat())
  {
    case Precision::Format::FP32:
      m_Impl->dtype = torch::kFloat;
      break;
    case Precision::Format::BF16:
      m_Impl->dtype = torch::kBFloat16;
      break;
    case Precision::Format::FP16:
      m_Impl->dtype = torch::kHalf;
      break;
  }
  m_Impl->network->to(m_Impl->device, m_Impl->dtype);
  m_Impl->channelsLast = cuda && disabled.count("channels_last") == 0;
  m_Impl->overlap = cuda && disabled.count("overlap") == 0;
  if (m_Impl->channelsLast)
  {
    torch::NoGradGuard noGrad;
    for (const auto & tensors : { m_Impl->network->parameters(), m_Impl->network->buffers() })
    {
      for (torch::Tensor t : tensors)
      {
        if (t.dim() == 4)
        {
          t.set_data(t.contiguous(torch::MemoryFormat::ChannelsLast));
        }
      }
    }
  }
  if (cuda && disabled.count("cudnn_benchmark") == 0)
  {
    // cuDNN times its algorithms for each new shape once and keeps the fastest: the engine's batches share one
    // shape (the last may be smaller). A process-wide setting, as in PyTorch (torch.backends.cudnn.benchmark).
    at::globalContext().setBenchmarkCuDNN(true);
  }
}

InferenceEngine::~InferenceEngine()
{
  m_Impl.reset();
  ReleaseUnusedTensorMemory();
}

bool
NativeBFloat16()
{
  return CpuHasFlag("avx512_bf16") || CpuHasFlag("amx_bf16");
}

namespace
{
/** text as a value of a whole-number option, or focusnet::Error in its words. */
int
WholeNumber(const NumericOption & option, const std::string & text)
{
  if (const std::string refusal = TextRefusal(option, text); !refusal.empty())
  {
    throw Error(refusal);
  }
  return static_cast<int>(*DecimalNumber(text));
}
} // namespace

void
SetInferenceOption(InferenceOptions & options, const std::string & keyword, const std::string & text)
{
  if (keyword == option::Device.keyword)
  {
    options.device = text;
  }
  else if (keyword == option::Threads.keyword)
  {
    options.threads = WholeNumber(option::Threads, text);
  }
  else if (keyword == option::BatchSize.keyword)
  {
    options.batchSize = WholeNumber(option::BatchSize, text);
  }
  else if (keyword == option::FlipAugmentation.keyword)
  {
    if (text != "true" && text != "false")
    {
      throw Error(std::string(option::FlipAugmentation.name) + " must be true or false, not '" + text + "'");
    }
    options.flipAugmentation = text == "true";
  }
  else if (keyword == option::Precision.keyword)
  {
    options.precision = text;
  }
  else
  {
    throw Error("no inference option is called '" + keyword + "'");
  }
}

std::string
GetInferenceOption(const InferenceOptions & options, const std::string & keyword)
{
  if (keyword == option::Device.keyword)
  {
    return options.device.Name();
  }
  if (keyword == option::Threads.keyword)
  {
    return std::to_string(options.threads);
  }
  if (keyword == option::BatchSize.keyword)
  {
    return std::to_string(options.batchSize);
  }
  if (keyword == option::FlipAugmentation.keyword)
  {
    return options.flipAugmentation ? "true" : "false";
  }
  if (keyword == option::Precision.keyword)
  {
    return options.precision.Name();
  }
  throw Error("no inference option is called '" + keyword + "'");
}

void
CheckInferenceOptions(const InferenceOptions & options)
{
  CheckOption(option::BatchSize, options.batchSize);
  CheckOption(option::Threads, options.threads);
  CheckPrecision(options.precision, ResolveDevice(options.device));
}

void
CheckPrecision(const Precision & precision, const Device & device)
{
  const bool cpu =
    (device.GetKind() == Device::Kind::Auto ? Device(ResolveDevice(device)) : device).GetKind() == Device::Kind::Cpu;
  if (precision.GetFormat() == Precision::Format::FP16 && cpu)
  {
    throw Error("fp16 precision runs on GPUs only (LibTorch's CPU convolutions have no fast float16 path); use fp32, "
                "or bf16 on a CPU with AVX512-BF16 or AMX");
  }
  if (precision.GetFormat() == Precision::Format::BF16 && cpu && !NativeBFloat16())
  {
    throw Error("bf16 precision needs a CPU with AVX512-BF16 or AMX (this one computes it only by emulation, "
                "slower than fp32); use fp32");
  }
}

void
InferenceEngine::Predict(const float *   slices,
                         std::int64_t    count,
                         std::int64_t    height,
                         std::int64_t    width,
                         std::int64_t    channels,
                         float *         probabilities,
                         FlipAgreement * agreement) const
{
  const std::int64_t sliceValues = height * width * channels;
  PredictStream(
    count,
    height,
    width,
    channels,
    [&](std::int64_t first, std::int64_t n, float * batch)
    { std::memcpy(batch, slices + first * sliceValues, sizeof(float) * n * sliceValues); },
    [&](std::int64_t first, std::int64_t n, const float * batch, const FlipAgreement * flips)
    {
      std::memcpy(probabilities + first * height * width, batch, sizeof(float) * n * height * width);
      if (agreement != nullptr)
      {
        std::fill(agreement + first, agreement + first + n, FlipAgreement{});
        if (flips != nullptr)
        {
          std::copy(flips, flips + n, agreement + first);
        }
      }
    });
}

void
InferenceEngine::PredictStream(std::int64_t            count,
                               std::int64_t            height,
                               std::int64_t            width,
                               std::int64_t            channels,
                               const SliceSource &     source,
                               const ProbabilitySink & sink,
                               double                  agreementThreshold) const
{
  const ModelMetadata & metadata = m_Impl->metadata;
  if (channels != metadata.architecture.inputChannels)
  {
    throw Error("the model expects " + std::to_string(metadata.architecture.inputChannels) + " channel(s), got " +
                std::to_string(channels));
  }
  if (count < 0 || height < 1 || width < 1)
  {
    throw Error("invalid slice buffer shape");
  }
  const torch::Device device = m_Impl->device;
  const bool          overlap = m_Impl->overlap;
  // On a GPU: page-locked host buffers (LibTorch's caching host allocator), so that the copies to and from the
  // device run asynchronously; the allocator does not hand a buffer out again before its copy has finished.
  const auto hostOptions = torch::TensorOptions().dtype(torch::kFloat).pinned_memory(overlap);

  /** A batch whose probabilities are on their way to host memory. */
  struct InFlight
  {
    torch::Tensor             probabilities;
    torch::Tensor             agreement; ///< n x 2 FlipAgreement counts; undefined without flips
    std::optional<c10::Event> copied;
    std::int64_t              first;
    std::int64_t              n;
  };
  std::optional<InFlight> inFlight;
  auto                    deliver = [&]
  {
    if (inFlight)
    {
      // Debian's LibTorch 1.13 has no c10::Event::synchronize; waiting by query is what CUDA's default spin does.
      while (inFlight->copied && !inFlight->copied->query())
      {
        std::this_thread::yield();
      }
      std::vector<FlipAgreement> agreement;
      if (inFlight->agreement.defined())
      {
        const auto counts = inFlight->agreement.accessor<std::int64_t, 2>();
        for (std::int64_t s = 0; s < inFlight->n; ++s)
        {
          agreement.push_back({ counts[s][0], counts[s][1], true });
        }
      }
      sink(inFlight->first,
           inFlight->n,
           inFlight->probabilities.data_ptr<float>(),
           agreement.empty() ? nullptr : agreement.data());
      inFlight.reset();
    }
  };

  torch::InferenceMode    guard;
  const ScopedThreadCount threads(m_Impl->options.threads);
  for (std::int64_t first = 0; first < count; first += m_Impl->options.batchSize)
  {
    const std::int64_t n = std::min<std::int64_t>(m_Impl->options.batchSize, count - first);
    torch::Tensor      host = torch::empty({ n, height, width, channels }, hostOptions);
    float *            values = host.data_ptr<float>();
    source(first, n, values);
    if (std::any_of(values, values + host.numel(), [](float v) { return !std::isfinite(v); }))
    {
      throw Error("the image holds NaN or infinite values; FocusNet segments finite intensities only");
    }
    torch::Tensor       agreement;
    const torch::Tensor p =
      m_Impl->Probabilities(host.permute({ 0, 3, 1, 2 }).to(device, /*non_blocking=*/overlap),
                            &agreement,
                            std::isnan(agreementThreshold) ? metadata.threshold : agreementThreshold);
    InFlight next{ p.to(torch::kCPU, /*non_blocking=*/overlap),
                   agreement.defined() ? agreement.to(torch::kCPU, /*non_blocking=*/overlap) : agreement,
                   std::nullopt,
                   first,
                   n };
    if (overlap)
    {
      // Recorded on the stream the work was queued on: done once the probabilities are in host memory.
      next.copied.emplace(device.type());
      next.copied->record(c10::impl::VirtualGuardImpl(device.type()).getStream(device));
    }
    deliver(); // the previous batch, while the device works on this one
    inFlight = std::move(next);
    if (!overlap)
    {
      deliver();
    }
  }
  deliver();
}

InferenceEngine::ThreadCountScope::ThreadCountScope(const InferenceEngine & engine)
  : ThreadCountScope(engine.Options().threads)
{
}

InferenceEngine::ThreadCountScope::ThreadCountScope(int threads)
  : m_Threads(std::make_unique<ScopedThreadCount>(threads))
{
}

InferenceEngine::ThreadCountScope::~ThreadCountScope() = default;

const ModelMetadata &
InferenceEngine::Metadata() const
{
  return m_Impl->metadata;
}

const InferenceOptions &
InferenceEngine::Options() const
{
  return m_Impl->options;
}

std::string
InferenceEngine::DeviceName() const
{
  return m_Impl->device.str();
}

} // namespace focusnet
