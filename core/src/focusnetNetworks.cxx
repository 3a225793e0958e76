/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetNetworks.h"

#include "focusnetError.h"

#include <cmath>

namespace focusnet::nn
{
namespace
{
// Keras defaults, which the authors used: eps 1e-3, momentum 0.99 (PyTorch counts it the other way).
torch::nn::BatchNorm2d
MakeBatchNorm(int64_t channels)
{
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-3).momentum(0.01));
}

/** Whether x may be overwritten: autograd is not recording (inference, or evaluation under no_grad) and nothing but
 * the caller, which gives x up (a temporary, or a tensor it does not read again), holds x or its memory. The
 * elementwise steps below then reuse their input's memory instead of allocating a tensor as large: a batch touches less
 * memory and its working set is smaller. In training autograd needs the inputs, and they are left alone. */
bool
Overwritable(const torch::Tensor & x)
{
  return !torch::GradMode::is_enabled() && x.use_count() == 1 && x.storage().use_count() == 1;
}

torch::Tensor
Relu(const torch::Tensor & x)
{
  return Overwritable(x) ? x.relu_() : torch::relu(x);
}

torch::Tensor
Sum(const torch::Tensor & x, const torch::Tensor & y)
{
  return Overwritable(x) ? x.add_(y) : x + y;
}

torch::Tensor
LeakyRelu(torch::Tensor x, double slope) // by value: torch::leaky_relu_ takes a mutable reference
{
  return Overwritable(x) ? torch::leaky_relu_(x, slope) : torch::leaky_relu(x, slope);
}

torch::Tensor
Sigmoid(const torch::Tensor & x)
{
  return Overwritable(x) ? x.sigmoid_() : torch::sigmoid(x);
}

/** x times y, y broadcast to x's shape. */
torch::Tensor
Product(const torch::Tensor & x, const torch::Tensor & y)
{
  return Overwritable(x) ? x.mul_(y) : x * y;
}

/** ReLU(conv2d(x, weight, bias)): one cuDNN call for CUDA tensors when fuse is set, else the two steps. */
torch::Tensor
ConvolutionRelu(const torch::Tensor & x,
                const torch::Tensor & weight,
                const torch::Tensor & bias,
                int64_t               stride,
                int64_t               padding,
                bool                  fuse)
{
  if (fuse && x.is_cuda())
  {
    return at::cudnn_convolution_relu(x, weight, bias, { stride, stride }, { padding, padding }, { 1, 1 }, 1);
  }
  return Relu(torch::conv2d(x, weight, bias, stride, padding));
}

/** ReLU(norm(conv(x))); once the norm is folded into conv (and emptied), conv's ReLU(conv(x)), fused where it can be.
 */
torch::Tensor
ConvNormRelu(ConvLayer & conv, torch::nn::BatchNorm2d & norm, const torch::Tensor & x)
{
  return norm ? Relu(norm(conv(x))) : conv->ForwardRelu(x);
}

/** The four phase kernels and their bias of UpsamplingImpl::forward, from the 2x2 kernel w (out x in x 2 x 2). */
std::pair<torch::Tensor, torch::Tensor>
PhaseKernels(const torch::Tensor & w, const torch::Tensor & bias)
{
  const torch::Tensor w00 = w.select(3, 0).select(2, 0), w01 = w.select(3, 1).select(2, 0);
  const torch::Tensor w10 = w.select(3, 0).select(2, 1), w11 = w.select(3, 1).select(2, 1);
  const torch::Tensor zero = torch::zeros_like(w00);
  auto                kernel =
    [](const torch::Tensor & k00, const torch::Tensor & k01, const torch::Tensor & k10, const torch::Tensor & k11) {
      return torch::stack({ torch::stack({ k00, k01 }, -1), torch::stack({ k10, k11 }, -1) }, -2);
    };
  const torch::Tensor phases = torch::stack({ kernel(w00 + w01 + w10 + w11, zero, zero, zero), // even row, even column
                                              kernel(w00 + w10, w01 + w11, zero, zero),        // even row, odd column
                                              kernel(w00 + w01, zero, w10 + w11, zero),        // odd row, even column
                                              w },                                             // odd row, odd column
                                            1)
                                 .flatten(0, 1); // output channel c, phase p -> 4c + p, the order pixel_shuffle reads
  return { phases, bias.repeat_interleave(4) };
}
} // namespace

void
SegmentationNetworkImpl::PrepareForInference(const InferencePreparation &)
{
}

int64_t
ScaledChannels(int64_t channels, const ArchitectureOptions & options)
{
  return std::max<int64_t>(std::max(1, options.minimumChannels),
                           std::llround(static_cast<double>(channels) * options.width));
}

ConvLayerImpl::ConvLayerImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bias)
{
  torch::nn::Conv2dOptions options(in, out, kernel);
  options.stride(stride).bias(bias);
  // "Same" padding. Even kernels (the 2x2 after upsampling) pad bottom/right only, as Keras does; forward()
  // pads explicitly because LibTorch's padding="same" copies the input for even kernels and warns each call.
  padBottomRight = kernel % 2 == 0 ? kernel - 1 : 0;
  padding = kernel % 2 == 0 ? 0 : kernel / 2;
  this->stride = stride;
  options.padding(padding);
  conv = register_module("conv", torch::nn::Conv2d(options));
  torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
  if (bias)
  {
    torch::nn::init::zeros_(conv->bias);
  }
}

torch::Tensor
ConvLayerImpl::forward(const torch::Tensor & x)
{
  const torch::Tensor & bias = Bias();
  torch::Tensor         y =
    padBottomRight > 0
              ? torch::conv2d(torch::nn::functional::pad(
                        x, torch::nn::functional::PadFuncOptions({ 0, padBottomRight, 0, padBottomRight })),
                      conv->weight,
                      bias,
                      stride)
              : torch::conv2d(x, conv->weight, bias, stride, padding);
  lastOutputPositions = y.size(2) * y.size(3);
  return y;
}

torch::Tensor
ConvLayerImpl::ForwardRelu(const torch::Tensor & x)
{
  if (padBottomRight > 0)
  {
    return Relu(forward(x));
  }
  torch::Tensor y = ConvolutionRelu(x, conv->weight, Bias(), stride, padding, fuseRelu);
  lastOutputPositions = y.size(2) * y.size(3);
  return y;
}

const torch::Tensor &
ConvLayerImpl::Bias() const
{
  return conv->bias.defined() ? conv->bias : foldedBias;
}

void
ConvLayerImpl::FoldBatchNorm(torch::nn::BatchNorm2d & norm)
{
  torch::NoGradGuard noGrad;
  // eval-mode batch norm: (y - mean) / sqrt(var + eps) * gamma + beta, per output channel of y = conv(x)
  const torch::Tensor scale = norm->running_var.add(norm->options.eps()).rsqrt().mul(norm->weight);
  const torch::Tensor shift = norm->bias - norm->running_mean * scale;
  conv->weight.mul_(scale.view({ -1, 1, 1, 1 }));
  if (conv->bias.defined())
  {
    conv->bias.mul_(scale).add_(shift);
  }
  else
  {
    foldedBias = register_buffer("folded_bias", shift);
  }
  norm = nullptr;
}

ResidualBlockImpl::ResidualBlockImpl(int64_t in, int64_t out)
{
  conv1 = register_module("conv1", ConvLayer(in, out, 3));
  norm = register_module("norm", MakeBatchNorm(out));
  conv2 = register_module("conv2", ConvLayer(out, out, 3));
  if (in != out)
  {
    shortcut = register_module("shortcut", ConvLayer(in, out, 1));
  }
}

torch::Tensor
ResidualBlockImpl::forward(const torch::Tensor & x)
{
  // One step a statement: C++ keeps a temporary until its statement ends, and each step's input can go after it.
  torch::Tensor y = ConvNormRelu(conv1, norm, x);
  y = conv2(y);
  return Sum(y, shortcut ? shortcut(x) : x);
}

DownsamplingBlockImpl::DownsamplingBlockImpl(int64_t in, int64_t out)
{
  norm1 = register_module("norm1", MakeBatchNorm(in));
  conv1 = register_module("conv1", ConvLayer(in, out, 3, 2));
  norm2 = register_module("norm2", MakeBatchNorm(out));
  conv2 = register_module("conv2", ConvLayer(out, out, 3));
  shortcut = register_module("shortcut", ConvLayer(in, out, 1, 2));
}

torch::Tensor
DownsamplingBlockImpl::forward(const torch::Tensor & x)
{
  torch::Tensor y = Relu(norm1(x));
  y = ConvNormRelu(conv1, norm2, y);
  y = conv2(y);
  return Sum(y, shortcut(x));
}

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t channels)
{
  const int64_t reduced = std::max<int64_t>(1, channels / 16);
  reduce = register_module("reduce", torch::nn::Linear(torch::nn::LinearOptions(channels, reduced).bias(false)));
  expand = register_module("expand", torch::nn::Linear(torch::nn::LinearOptions(reduced, channels).bias(false)));
  // Keras Dense default initialisation.
  torch::nn::init::xavier_uniform_(reduce->weight);
  torch::nn::init::xavier_uniform_(expand->weight);
}

torch::Tensor
SqueezeExcitationImpl::forward(const torch::Tensor & x)
{
  torch::Tensor s = x.mean({ 2, 3 });
  s = torch::sigmoid(expand(torch::relu(reduce(s))));
  return Product(x, s.unsqueeze(-1).unsqueeze(-1));
}

UpsamplingImpl::UpsamplingImpl(int64_t in, int64_t out)
{
  conv = register_module("conv", ConvLayer(in, out, 2));
}

// Nearest 2x upsampling then the 2x2 convolution padded bottom/right, computed at the input's resolution. Output row
// 2i reads input row i twice, row 2i+1 rows i and i+1 (and likewise for columns), so each of the four output phases
// (even or odd row x even or odd column) is a 2x2 convolution of the input with the kernel's taps summed where they
// read the same input pixel; one convolution with 4x the output channels computes the four phases and pixel_shuffle
// interleaves them. Same outputs and multiply-accumulates, without the upsampled and padded copies at 4x the input's
// size, which were the largest tensors of a batch.
torch::Tensor
UpsamplingImpl::forward(const torch::Tensor & x)
{
  const auto [weight, bias] =
    phaseWeight.defined() ? std::pair{ phaseWeight, phaseBias } : PhaseKernels(conv->conv->weight, conv->conv->bias);
  // ReLU before the interleaving: the same values, and the convolution and ReLU can be one call.
  torch::Tensor y =
    ConvolutionRelu(torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({ 0, 1, 0, 1 })),
                    weight,
                    bias,
                    1,
                    0,
                    conv->fuseRelu);
  y = torch::pixel_shuffle(y, 2);
  conv->lastOutputPositions = y.size(2) * y.size(3);
  return y;
}

void
UpsamplingImpl::KeepPhaseKernels()
{
  torch::NoGradGuard noGrad;
  auto [weight, bias] = PhaseKernels(conv->conv->weight, conv->conv->bias);
  phaseWeight = register_buffer("phase_weight", weight);
  phaseBias = register_buffer("phase_bias", bias);
}

FocusNetImpl::FocusNetImpl(const ArchitectureOptions & architecture)
  : options(architecture)
{
  auto          c = [&](int64_t channels) { return ScaledChannels(channels, options); };
  const int64_t in = options.inputChannels;

  // Attention branch: a small encoder-decoder whose decoder outputs gate the main branch.
  const int64_t a0 = c(options.attentionStemWidth);
  attentionStem = register_module("attention_stem", ConvLayer(in, a0, 3, 1, false));
  attentionStemNorm = register_module("attention_stem_norm", MakeBatchNorm(a0));
  attentionDown1 = register_module("attention_down1", DownsamplingBlock(a0, c(32)));
  attentionBlock2 = register_module("attention_block2", ResidualBlock(c(32), c(64)));
  attentionDown2 = register_module("attention_down2", DownsamplingBlock(c(64), c(64)));
  attentionBlock3 = register_module("attention_block3", ResidualBlock(c(64), c(128)));
  attentionDown3 = register_module("attention_down3", DownsamplingBlock(c(128), c(128)));
  attentionBlock4 = register_module("attention_block4", ResidualBlock(c(128), c(256)));
  auto makeDecoder = [&](const std::string & name, int64_t deeper, int64_t skip, int64_t out)
  {
    DecoderLevel level;
    level.up = register_module(name + "_up", Upsampling(deeper, out));
    level.block = register_module(name + "_block", ResidualBlock(out + skip, out));
    return level;
  };
  attentionUp5 = makeDecoder("attention_up5", c(256), c(128), c(256));
  attentionUp6 = makeDecoder("attention_up6", c(256), c(64), c(128));
  attentionUp7 = makeDecoder("attention_up7", c(128), a0, c(64));

  // Main branch: ResNet + SE encoder gated at three resolutions, U-Net-like decoder.
  mainStem = register_module("main_stem", ConvLayer(in, c(64), 7));
  mainStemNorm = register_module("main_stem_norm", MakeBatchNorm(c(64)));
  auto makeEncoder = [&](const std::string & name, int64_t inChannels, int64_t out, bool gated)
  {
    EncoderLevel level;
    level.block = register_module(name + "_block", ResidualBlock(inChannels, out));
    level.excite1 = register_module(name + "_se1", SqueezeExcitation(out));
    if (gated)
    {
      level.excite2 = register_module(name + "_se2", SqueezeExcitation(out));
    }
    level.down = register_module(name + "_down", DownsamplingBlock(out, out));
    return level;
  };
  level1 = makeEncoder("level1", c(64), c(64), true);
  level2 = makeEncoder("level2", c(64), c(128), true);
  level3 = makeEncoder("level3", c(128), c(256), true);
  level4 = makeEncoder("level4", c(256), c(512), false);
  decoder1 = makeDecoder("decoder1", c(512), c(256), c(256));
  decoder2 = makeDecoder("decoder2", c(256), c(128), c(128));
  decoder3 = makeDecoder("decoder3", c(128), c(64), c(64));
  decoder4 = makeDecoder("decoder4", c(64), c(64), c(32));
  refine1 = register_module("refine1", ResidualBlock(c(32), c(16)));
  refine2 = register_module("refine2", ResidualBlock(c(16), c(4)));
  head = register_module("head", ConvLayer(c(4), 1, 1));

  if (options.dropoutPlacement != DropoutPlacement::None)
  {
    dropout = register_module("dropout", torch::nn::Dropout(options.dropoutRate));
  }
}

torch::Tensor
FocusNetImpl::Drop(const torch::Tensor & x, bool bottleneck)
{
  const bool apply = options.dropoutPlacement == DropoutPlacement::Throughout ||
                     (bottleneck && options.dropoutPlacement == DropoutPlacement::AttentionBottleneck);
  return apply ? dropout(x) : x;
}

// Encode and Decode take their tensors by value and let them go once read, and forward() hands each activation over
// (std::move) at its last use: a batch holds only the activations still to be read, not every one computed so far.
torch::Tensor
FocusNetImpl::Encode(EncoderLevel & level, torch::Tensor x, torch::Tensor gate)
{
  torch::Tensor y = level.excite1(level.block(x));
  x.reset();
  if (gate.defined())
  {
    gate = Sigmoid(gate);
    y = level.excite2(Product(y, gate));
    gate.reset();
  }
  return Drop(level.down(y), false);
}

torch::Tensor
FocusNetImpl::Decode(DecoderLevel & level, torch::Tensor deeper, torch::Tensor skip)
{
  torch::Tensor joined = torch::cat({ level.up(deeper), skip }, 1);
  deeper.reset();
  skip.reset();
  return Drop(level.block(joined), false);
}

torch::Tensor
FocusNetImpl::forward(const torch::Tensor & x)
{
  torch::Tensor a0 = attentionStem(x);
  a0 = LeakyRelu(attentionStemNorm ? attentionStemNorm(a0) : a0, 0.3);
  torch::Tensor a2 = Drop(attentionBlock2(attentionDown1(a0)), false);
  torch::Tensor a3 = Drop(attentionBlock3(attentionDown2(a2)), false);
  torch::Tensor a4 = Drop(attentionBlock4(attentionDown3(a3)), true);
  torch::Tensor gate5 = Decode(attentionUp5, std::move(a4), std::move(a3));
  torch::Tensor gate6 = Decode(attentionUp6, gate5, std::move(a2));
  torch::Tensor gate7 = Decode(attentionUp7, gate6, std::move(a0));

  torch::Tensor m0 = ConvNormRelu(mainStem, mainStemNorm, x);
  torch::Tensor b1 = Encode(level1, m0, std::move(gate7));
  torch::Tensor b2 = Encode(level2, b1, std::move(gate6));
  torch::Tensor b3 = Encode(level3, b2, std::move(gate5));
  torch::Tensor b4 = Encode(level4, b3, torch::Tensor());

  torch::Tensor d = Decode(decoder1, std::move(b4), std::move(b3));
  d = Decode(decoder2, std::move(d), std::move(b2));
  d = Decode(decoder3, std::move(d), std::move(b1));
  d = Decode(decoder4, std::move(d), std::move(m0));
  d = refine2(refine1(d));
  return head(d);
}

void
FocusNetImpl::PrepareForInference(const InferencePreparation & preparation)
{
  if (preparation.foldBatchNorm)
  {
    attentionStem->FoldBatchNorm(attentionStemNorm);
    mainStem->FoldBatchNorm(mainStemNorm);
  }
  for (const auto & module : modules())
  {
    if (auto * up = dynamic_cast<UpsamplingImpl *>(module.get()))
    {
      up->KeepPhaseKernels();
    }
    if (auto * conv = dynamic_cast<ConvLayerImpl *>(module.get()))
    {
      conv->fuseRelu = preparation.fuseConvolutionRelu;
    }
    if (auto * residual = dynamic_cast<ResidualBlockImpl *>(module.get()); residual && preparation.foldBatchNorm)
    {
      residual->conv1->FoldBatchNorm(residual->norm);
    }
    if (auto * down = dynamic_cast<DownsamplingBlockImpl *>(module.get()); down && preparation.foldBatchNorm)
    {
      down->conv1->FoldBatchNorm(down->norm2);
    }
  }
}

UNetImpl::UNetImpl(const ArchitectureOptions & architecture)
{
  auto c = [&](int64_t channels) { return ScaledChannels(channels, architecture); };
  auto doubleConv = [&](int64_t in, int64_t out)
  {
    torch::nn::Sequential block;
    block->push_back(ConvLayer(in, out, 3));
    block->push_back(MakeBatchNorm(out));
    block->push_back(torch::nn::ReLU());
    block->push_back(ConvLayer(out, out, 3));
    block->push_back(MakeBatchNorm(out));
    block->push_back(torch::nn::ReLU());
    return block;
  };
  const std::vector<int64_t> widths{ c(64), c(128), c(256), c(512), c(1024) };
  int64_t                    in = architecture.inputChannels;
  for (size_t i = 0; i < widths.size(); ++i)
  {
    encoders.push_back(register_module("encoder" + std::to_string(i), doubleConv(in, widths[i])));
    in = widths[i];
  }
  for (size_t i = widths.size() - 1; i > 0; --i)
  {
    ups.push_back(register_module("up" + std::to_string(i), Upsampling(widths[i], widths[i - 1])));
    decoders.push_back(register_module("decoder" + std::to_string(i), doubleConv(2 * widths[i - 1], widths[i - 1])));
  }
  head = register_module("head", ConvLayer(widths[0], 1, 1));
  if (architecture.dropoutPlacement != DropoutPlacement::None)
  {
    dropout = register_module("dropout", torch::nn::Dropout(architecture.dropoutRate));
  }
  dropoutEverywhere = architecture.dropoutPlacement == DropoutPlacement::Throughout;
}

torch::Tensor
UNetImpl::forward(const torch::Tensor & x)
{
  std::vector<torch::Tensor> skips;
  torch::Tensor              y = x;
  for (size_t i = 0; i < encoders.size(); ++i)
  {
    if (i > 0)
    {
      y = torch::max_pool2d(y, 2);
    }
    y = encoders[i]->forward(y);
    const bool bottleneck = i + 1 == encoders.size();
    if (dropout && (dropoutEverywhere || bottleneck))
    {
      y = dropout(y);
    }
    skips.push_back(y);
  }
  for (size_t i = 0; i < decoders.size(); ++i)
  {
    const torch::Tensor & skip = skips[skips.size() - 2 - i];
    y = decoders[i]->forward(torch::cat({ ups[i](y), skip }, 1));
    if (dropout && dropoutEverywhere)
    {
      y = dropout(y);
    }
  }
  return head(y);
}

std::shared_ptr<SegmentationNetworkImpl>
BuildNetwork(const ArchitectureOptions & options)
{
  if (options.name == "focusnet")
  {
    return std::make_shared<FocusNetImpl>(options);
  }
  if (options.name == "unet")
  {
    return std::make_shared<UNetImpl>(options);
  }
  throw Error("unknown architecture '" + options.name + "' (expected focusnet or unet)");
}

} // namespace focusnet::nn
