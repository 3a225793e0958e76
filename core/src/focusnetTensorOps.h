/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetTensorOps_h
#define focusnetTensorOps_h

// Internal: tensor operations shared by inference and training (so both see identical network inputs), and
// the loss.

#include "focusnetModelMetadata.h"
#include "focusnetOptions.h"

#include <torch/torch.h>

namespace focusnet
{

/** N x C x H x W raw intensities -> normalised as the model metadata says. */
torch::Tensor
Normalize(const torch::Tensor & images, const Normalization & normalization);

/** Bilinear resize of N x C x H x W to height x width (antialiased when shrinking); no-op when equal. */
torch::Tensor
Resize(const torch::Tensor & images, int64_t height, int64_t width);

/** The LibTorch device device names ("auto": a GPU when LibTorch sees one); throws focusnet::Error for an absent GPU.
 */
torch::Device
ParseDevice(const Device & device);

/** LibTorch's intra-op thread count for a scope (threads; 0: every hardware thread), the caller's count restored
 * after: the engine runs with its own count without changing that of the program embedding it. */
class ScopedThreadCount
{
public:
  explicit ScopedThreadCount(int threads);
  ~ScopedThreadCount();
  ScopedThreadCount(const ScopedThreadCount &) = delete;
  ScopedThreadCount &
  operator=(const ScopedThreadCount &) = delete;

private:
  int m_Previous;
};

/** LibTorch's global CPU generator seeded for a scope, its state restored after: seeded weight initialisation
 * leaves the caller's random stream where it was. */
class ScopedGlobalSeed
{
public:
  explicit ScopedGlobalSeed(std::uint64_t seed);
  ~ScopedGlobalSeed();
  ScopedGlobalSeed(const ScopedGlobalSeed &) = delete;
  ScopedGlobalSeed &
  operator=(const ScopedGlobalSeed &) = delete;

private:
  torch::Tensor m_State;
};

/** The paper's loss: 1 - Dice, Dice per image = (2 sum(y p) + s) / (sum y + sum p + s), averaged over the batch. */
torch::Tensor
DiceLoss(const torch::Tensor & probabilities, const torch::Tensor & truth, double smoothing = 1.0);

} // namespace focusnet

#endif
