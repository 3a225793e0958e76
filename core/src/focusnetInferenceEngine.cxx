/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetInferenceEngine.h"

#include "focusnetError.h"
#include "focusnetModelImpl.h"
#include "focusnetTensorMemory.h"
#include "focusnetTensorOps.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

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
} // namespace

struct InferenceEngine::Impl
{
  ModelMetadata                                metadata;
  InferenceOptions                             options;
  torch::Device                                device{ torch::kCPU };
  std::shared_ptr<nn::SegmentationNetworkImpl> network;
  torch::ScalarType                            dtype{ torch::kFloat };

  Flips flips; ///< used by flip augmentation: those the model was trained on

  /** The network on a float batch, in the engine's precision; float logits. */
  torch::Tensor
  Forward(const torch::Tensor & x) const
  {
    return network->forward(x.to(dtype)).to(torch::kFloat);
  }

  /** The network's logits for a batch; with flip augmentation, the logits of the probabilities averaged over the
   * identity and the flipped copies (log(mean p) - log(mean (1 - p)), in log space so saturated maps stay finite). */
  torch::Tensor
  Logits(const torch::Tensor & x) const
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
    if (copies.size() == 1)
    {
      return copies.front();
    }
    const torch::Tensor z = torch::stack(copies);
    return torch::logsumexp(torch::log_sigmoid(z), 0) - torch::logsumexp(torch::log_sigmoid(-z), 0);
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
  m_Impl->dtype = options.precision == "bf16"   ? torch::kBFloat16
                  : options.precision == "fp16" ? torch::kHalf
                                                : torch::kFloat;
  m_Impl->network->to(m_Impl->device, m_Impl->dtype);
  m_Impl->network->eval();
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

void
CheckInferenceOptions(const InferenceOptions & options)
{
  if (options.batchSize < 1)
  {
    throw Error("batch size must be at least 1");
  }
  if (options.threads < 0)
  {
    throw Error("thread count must not be negative");
  }
  CheckPrecision(options.precision, ResolveDevice(options.device));
}

void
CheckPrecision(const std::string & precision, const std::string & device)
{
  if (precision != "fp32" && precision != "bf16" && precision != "fp16")
  {
    throw Error("unknown precision '" + precision + "' (use fp32, bf16 or fp16)");
  }
  if (precision == "fp16" && device == "cpu")
  {
    throw Error("fp16 precision runs on GPUs only (LibTorch's CPU convolutions have no fast float16 path); use fp32, "
                "or bf16 on a CPU with AVX512-BF16 or AMX");
  }
  if (precision == "bf16" && device == "cpu" && !NativeBFloat16())
  {
    throw Error("bf16 precision needs a CPU with AVX512-BF16 or AMX (this one computes it only by emulation, "
                "slower than fp32); use fp32");
  }
}

void
InferenceEngine::Predict(const float * slices,
                         std::int64_t  count,
                         std::int64_t  height,
                         std::int64_t  width,
                         std::int64_t  channels,
                         float *       probabilities) const
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
  const int64_t sliceValues = height * width * channels;
  if (std::any_of(slices, slices + count * sliceValues, [](float v) { return !std::isfinite(v); }))
  {
    throw Error("the image holds NaN or infinite values; FocusNet segments finite intensities only");
  }
  torch::InferenceMode    guard;
  const ScopedThreadCount threads(m_Impl->options.threads);
  for (int64_t start = 0; start < count; start += m_Impl->options.batchSize)
  {
    const int64_t n = std::min<int64_t>(m_Impl->options.batchSize, count - start);
    // from_blob wraps the caller's buffer without copying; the first operation that needs another layout copies.
    torch::Tensor x =
      torch::from_blob(const_cast<float *>(slices) + start * sliceValues, { n, height, width, channels })
        .permute({ 0, 3, 1, 2 })
        .to(m_Impl->device);
    x = Resize(Normalize(x, metadata.normalization), metadata.inputSize, metadata.inputSize);
    // Resampling the logits, not the probabilities, puts the 0.5 boundary between two network pixels where the
    // network's confidence on either side says; bilinear probabilities put it midway wherever both saturate.
    torch::Tensor p = torch::sigmoid(Resize(m_Impl->Logits(x.contiguous()), height, width));
    p = p.to(torch::kCPU).contiguous();
    std::memcpy(probabilities + start * height * width, p.data_ptr<float>(), sizeof(float) * n * height * width);
  }
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
