/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetInferenceEngine_h
#define focusnetInferenceEngine_h

#include "focusnetModelMetadata.h"
#include "focusnetOptions.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <tuple>

namespace focusnet
{

class Model;
class ScopedThreadCount;

struct InferenceOptions
{
  Device device; ///< "auto", "cpu", "cuda" or "cuda:N" (option::Device)
  /** LibTorch intra-op threads in Predict (0: all); the caller's count restored after (option::Threads) */
  int threads{ static_cast<int>(option::Threads.fallback) };
  int batchSize{ static_cast<int>(option::BatchSize.fallback) }; ///< slices per forward pass (option::BatchSize)
  /** Average over the identity and the mirror images the model was trained on (TrainedFlips). */
  bool flipAugmentation{ false };
  /** "fp32"; "bf16": the network's weights and activations in bfloat16, for CPUs that compute it natively
   * (NativeBFloat16) and CUDA devices; "fp16": in float16, for CUDA devices. Probabilities are float either way. */
  Precision precision; ///< option::Precision

  /** Every field: the structured binding stops compiling when a field is added and not named here. */
  bool
  operator==(const InferenceOptions & other) const
  {
    const auto & [d, t, b, f, p] = *this;
    const auto & [od, ot, ob, of, op] = other;
    return std::tie(d, t, b, f, p) == std::tie(od, ot, ob, of, op);
  }
  bool
  operator!=(const InferenceOptions & other) const
  {
    return !(*this == other);
  }
};

/** The options of InferenceOptions' fields, in the fields' order: option::Device, Threads, BatchSize,
 * FlipAugmentation, Precision, by keyword. What reads the options as text (the Slicer CLI) sets them through
 * SetInferenceOption, and a test walks every field with it; the tests check that a field added to InferenceOptions
 * is added here. */
inline constexpr const char * InferenceOptionKeywords[] = { option::Device.keyword,
                                                            option::Threads.keyword,
                                                            option::BatchSize.keyword,
                                                            option::FlipAugmentation.keyword,
                                                            option::Precision.keyword };

/** Sets the field of options that keyword names (InferenceOptionKeywords) from text as a command line gives it: a
 * number in decimal (TextRefusal), a device or precision by name, a flag as "true" or "false". Throws focusnet::Error
 * in the option's words for a value it refuses, and for an unknown keyword. */
void
SetInferenceOption(InferenceOptions & options, const std::string & keyword, const std::string & text);

/** The field of options that keyword names, as SetInferenceOption reads it back: "8", "cuda:1", "true". */
std::string
GetInferenceOption(const InferenceOptions & options, const std::string & keyword);

/** How far the copies of flip test-time augmentation (InferenceOptions::flipAugmentation) agree on a slice's label:
 * the pixels that any copy's label holds, and those that every copy's holds. Each copy's logits are resized to the
 * slice as the averaged ones are, and a pixel is label where its probability is at least the threshold (the model's
 * unless PredictStream is given another). */
struct FlipAgreement
{
  std::int64_t labelledByAny{ 0 };
  std::int64_t labelledByAll{ 0 };
  bool         measured{ false }; ///< false where no flips ran
};

/** \class InferenceEngine
 * \brief Runs a model over 2D slices given as plain float buffers.
 *
 * Each slice is normalised as the model's metadata says, resized to the network input size,
 * run in batches in inference mode; the network's logits are resized back to the slice size (bilinear) and
 * only then turned into probabilities, so the 0.5 boundary falls between network pixels by their confidence.
 * The engine holds its own copy of the network on the chosen device, readied for inference: batch norms folded into
 * the convolutions before them; on CUDA also channels-last, convolution + ReLU fused by cuDNN, cuDNN's algorithm
 * search (a process-wide setting), and batches overlapped with their copies (PredictStream). For measuring,
 * $FOCUSNET_ENGINE_DISABLE turns any of these off by name: fold, fuse, channels_last, cudnn_benchmark, overlap.
 * \ingroup FocusNet
 */
class InferenceEngine
{
public:
  InferenceEngine(const Model & model, const InferenceOptions & options);
  ~InferenceEngine();
  InferenceEngine(const InferenceEngine &) = delete;
  InferenceEngine &
  operator=(const InferenceEngine &) = delete;

  /** slices: count x height x width x channels floats (channels interleaved, as ITK stores RGB),
   * with channels equal to the model's input channels. probabilities: count x height x width. Throws focusnet::Error
   * when a value is NaN or infinite. */
  void
  Predict(const float *   slices,
          std::int64_t    count,
          std::int64_t    height,
          std::int64_t    width,
          std::int64_t    channels,
          float *         probabilities,
          FlipAgreement * agreement = nullptr) const; ///< count entries, set when not null

  /** Fills slices with slices [first, first + n): n x height x width x channels floats. */
  using SliceSource = std::function<void(std::int64_t first, std::int64_t n, float * slices)>;
  /** Takes the probabilities of slices [first, first + n): n x height x width floats, and with flip augmentation
   * their FlipAgreement (n of them; nullptr where no flips ran), valid during the call. */
  using ProbabilitySink = std::function<
    void(std::int64_t first, std::int64_t n, const float * probabilities, const FlipAgreement * agreement)>;

  /** Predict for callers that produce slices and consume probabilities batch by batch (the ITK filter): the engine
   * asks source for each batch of up to the batch size, in order, and hands each batch's probabilities to sink, in
   * order. On a GPU, source fills the next batch and sink takes the previous one while the device computes. Throws
   * as Predict does; batches already given to sink stay given. agreementThreshold: the threshold of the caller's
   * label, which FlipAgreement counts with (NaN: the model's). */
  void
  PredictStream(std::int64_t            count,
                std::int64_t            height,
                std::int64_t            width,
                std::int64_t            channels,
                const SliceSource &     source,
                const ProbabilitySink & sink,
                double                  agreementThreshold = std::numeric_limits<double>::quiet_NaN()) const;

  /** While one lives, LibTorch runs with the engine's thread count, which Predict (and engines made with the same
   * count) then neither set nor give back each call; the caller's count comes back when it is destroyed. For loops
   * of calls (the ITK filter's batches, evaluation's images, the Python module's Model.hold_threads): each change of
   * LibTorch's count re-creates its thread pool (LibTorch's sources also drop cached oneDNN primitives there); set
   * and given back, that cost 20-40 ms a call on a 2-core machine. */
  class ThreadCountScope
  {
  public:
    explicit ThreadCountScope(const InferenceEngine & engine);
    /** threads as InferenceOptions::threads (0: every hardware thread). */
    explicit ThreadCountScope(int threads);
    ~ThreadCountScope();
    ThreadCountScope(const ThreadCountScope &) = delete;
    ThreadCountScope &
    operator=(const ThreadCountScope &) = delete;

  private:
    std::unique_ptr<ScopedThreadCount> m_Threads;
  };

  const ModelMetadata &
  Metadata() const;
  const InferenceOptions &
  Options() const;
  /** The device actually used, e.g. "cpu" or "cuda:0". */
  std::string
  DeviceName() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_Impl;
};

/** The device a setting resolves to, as the engine uses it: "auto" gives "cuda:0" when LibTorch sees a GPU and "cpu"
 * otherwise. Throws focusnet::Error for an unknown device or an absent GPU. */
std::string
ResolveDevice(const Device & device);

/** True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16, from /proc/cpuinfo): there bf16
 * inference is faster than fp32; elsewhere it would be emulated and slower, and the engine refuses it. */
bool
NativeBFloat16();

/** Throws focusnet::Error unless the device ("auto" as ResolveDevice resolves it) runs precision: fp32
 * anywhere, bf16 on a CPU that computes it (NativeBFloat16) and on CUDA devices, fp16 on CUDA devices. The engine
 * checks its options with it; front doors may call it before any work. */
void
CheckPrecision(const Precision & precision, const Device & device);

/** Throws focusnet::Error for options no engine can run with here: a batch size or thread count outside its range
 * (option::BatchSize, option::Threads), an unknown or absent device (ResolveDevice), a precision the device cannot run
 * (CheckPrecision). The engine checks its options with it; front doors call it before any work. */
void
CheckInferenceOptions(const InferenceOptions & options);

/** Whether this LibTorch build sees a CUDA device. */
bool
CudaAvailable();

} // namespace focusnet

#endif
