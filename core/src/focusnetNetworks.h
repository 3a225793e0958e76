/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetNetworks_h
#define focusnetNetworks_h

// Internal: LibTorch types. Include only from the core's own .cxx files and from training.

#include "focusnetModelMetadata.h"

#include <torch/torch.h>

namespace focusnet::nn
{

/** How a network is readied for inference (SegmentationNetworkImpl::PrepareForInference). */
struct InferencePreparation
{
  /** Fold each batch norm that directly follows a convolution into that convolution's weights and bias. */
  bool foldBatchNorm{ true };
  /** Convolution + bias + ReLU as one cuDNN call (at::cudnn_convolution_relu) where a ReLU follows a convolution;
   * CUDA tensors only, elsewhere the two steps run apart. */
  bool fuseConvolutionRelu{ true };
};

/** A 2D convolution that remembers how many output positions its last call produced, so that the
 * multiply-accumulates of a forward pass can be counted without hooks. */
struct ConvLayerImpl : torch::nn::Module
{
  ConvLayerImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, bool bias = true);
  torch::Tensor
  forward(const torch::Tensor & x);
  /** ReLU(forward(x)): one cuDNN call on CUDA tensors when fuseRelu is set. */
  torch::Tensor
  ForwardRelu(const torch::Tensor & x);
  /** Inference only: scales the weights and shifts the bias so that forward() computes norm(forward()) as norm
   * stands now (running statistics, eval mode), and empties norm, which the owner's forward() then skips. */
  void
  FoldBatchNorm(torch::nn::BatchNorm2d & norm);
  /** The convolution's bias, or the one a folded norm gave it (undefined: none). */
  const torch::Tensor &
  Bias() const;

  torch::nn::Conv2d conv{ nullptr };
  torch::Tensor     foldedBias; ///< the bias a folded norm gave a convolution made without one (a buffer)
  int64_t           stride{ 1 };
  int64_t           padding{ 0 };
  int64_t           padBottomRight{ 0 };
  int64_t           lastOutputPositions{ 0 };
  bool              fuseRelu{ false };
};
TORCH_MODULE(ConvLayer);

/** R1: conv3x3 -> BN -> ReLU -> conv3x3, plus identity or 1x1-conv shortcut. */
struct ResidualBlockImpl : torch::nn::Module
{
  ResidualBlockImpl(int64_t in, int64_t out);
  torch::Tensor
  forward(const torch::Tensor & x);

  ConvLayer              conv1{ nullptr }, conv2{ nullptr }, shortcut{ nullptr };
  torch::nn::BatchNorm2d norm{ nullptr }; ///< empty once folded
};
TORCH_MODULE(ResidualBlock);

/** R2: full pre-activation stride-2 block, BN -> ReLU -> conv3x3/2 -> BN -> ReLU -> conv3x3, with a
 * 1x1/2 conv shortcut. The only downsampling in FocusNet. */
struct DownsamplingBlockImpl : torch::nn::Module
{
  DownsamplingBlockImpl(int64_t in, int64_t out);
  torch::Tensor
  forward(const torch::Tensor & x);

  /// norm2 empty once folded into conv1; norm1, before the first convolution, cannot be folded
  torch::nn::BatchNorm2d norm1{ nullptr }, norm2{ nullptr };
  ConvLayer              conv1{ nullptr }, conv2{ nullptr }, shortcut{ nullptr };
};
TORCH_MODULE(DownsamplingBlock);

/** Squeeze-and-excitation with reduction 16. */
struct SqueezeExcitationImpl : torch::nn::Module
{
  explicit SqueezeExcitationImpl(int64_t channels);
  torch::Tensor
  forward(const torch::Tensor & x);

  torch::nn::Linear reduce{ nullptr }, expand{ nullptr };
};
TORCH_MODULE(SqueezeExcitation);

/** 2x nearest-neighbour upsampling -> conv 2x2 "same" -> ReLU. */
struct UpsamplingImpl : torch::nn::Module
{
  UpsamplingImpl(int64_t in, int64_t out);
  torch::Tensor
  forward(const torch::Tensor & x);
  /** Inference only: computes the four phase kernels once (buffers) instead of each call. */
  void
  KeepPhaseKernels();

  ConvLayer     conv{ nullptr };
  torch::Tensor phaseWeight, phaseBias; ///< set by KeepPhaseKernels
};
TORCH_MODULE(Upsampling);

/** Base of the segmentation networks: N x C x S x S in, N x 1 x S x S logits out (sigmoid: probabilities). */
struct SegmentationNetworkImpl : torch::nn::Module
{
  virtual torch::Tensor
  forward(const torch::Tensor & x) = 0;

  /** For an inference engine's own copy, in eval mode, before it moves to its device and precision: the same
   * function in fewer, larger steps. The network can no longer be trained or saved as a model afterwards. The base
   * does nothing (the U-Net runs as it is). */
  virtual void
  PrepareForInference(const InferencePreparation & preparation);
};

/** FocusNet (Kaul et al., ISBI 2019), layer by layer as in docs/focusnet-paper.md. */
struct FocusNetImpl : SegmentationNetworkImpl
{
  explicit FocusNetImpl(const ArchitectureOptions & options);
  torch::Tensor
  forward(const torch::Tensor & x) override;
  void
  PrepareForInference(const InferencePreparation & preparation) override;

  /** One main-branch encoder level: R1 -> SE [-> x gate -> SE] -> R2. */
  struct EncoderLevel
  {
    ResidualBlock     block{ nullptr };
    SqueezeExcitation excite1{ nullptr }, excite2{ nullptr };
    DownsamplingBlock down{ nullptr };
  };
  /** Up of the deeper tensor, concatenation with the skip, R1. */
  struct DecoderLevel
  {
    Upsampling    up{ nullptr };
    ResidualBlock block{ nullptr };
  };

  torch::Tensor
  Encode(EncoderLevel & level, torch::Tensor x, torch::Tensor gate);
  torch::Tensor
  Decode(DecoderLevel & level, torch::Tensor deeper, torch::Tensor skip);
  torch::Tensor
  Drop(const torch::Tensor & x, bool bottleneck);

  ArchitectureOptions options;

  // attention branch
  ConvLayer              attentionStem{ nullptr };
  torch::nn::BatchNorm2d attentionStemNorm{ nullptr }; ///< empty once folded
  DownsamplingBlock      attentionDown1{ nullptr }, attentionDown2{ nullptr }, attentionDown3{ nullptr };
  ResidualBlock          attentionBlock2{ nullptr }, attentionBlock3{ nullptr }, attentionBlock4{ nullptr };
  DecoderLevel           attentionUp5, attentionUp6, attentionUp7;

  // main branch
  ConvLayer              mainStem{ nullptr };
  torch::nn::BatchNorm2d mainStemNorm{ nullptr }; ///< empty once folded
  EncoderLevel           level1, level2, level3, level4;
  DecoderLevel           decoder1, decoder2, decoder3, decoder4;
  ResidualBlock          refine1{ nullptr }, refine2{ nullptr };
  ConvLayer              head{ nullptr };
  torch::nn::Dropout     dropout{ nullptr };
};

/** The classic U-Net baseline (Ronneberger 2015): two conv3x3-BN-ReLU per level, max-pool down,
 * nearest-neighbour upsampling + conv 2x2 up (as in the Keras U-Nets the paper compares with). */
struct UNetImpl : SegmentationNetworkImpl
{
  explicit UNetImpl(const ArchitectureOptions & options);
  torch::Tensor
  forward(const torch::Tensor & x) override;

  std::vector<torch::nn::Sequential> encoders, decoders;
  std::vector<Upsampling>            ups;
  ConvLayer                          head{ nullptr };
  torch::nn::Dropout                 dropout{ nullptr };
  bool                               dropoutEverywhere{ false };
};

/** Builds the network an ArchitectureOptions names; weights initialised from the global RNG. */
std::shared_ptr<SegmentationNetworkImpl>
BuildNetwork(const ArchitectureOptions & options);

/** Channel count c scaled by the options' width multiplier, at least their minimum channel count (and 1). */
int64_t
ScaledChannels(int64_t channels, const ArchitectureOptions & options);

} // namespace focusnet::nn

#endif
