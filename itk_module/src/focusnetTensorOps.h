/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetTensorOps_h
#define focusnetTensorOps_h

// Internal: the preprocessing shared by inference and training, so both see identical network inputs.

#include "focusnetModelMetadata.h"

#include <torch/torch.h>

namespace focusnet
{

/** N x C x H x W raw intensities -> normalised as the model metadata says. */
torch::Tensor
Normalize(const torch::Tensor & images, const Normalization & normalization);

/** Bilinear resize of N x C x H x W to height x width (antialiased when shrinking); no-op when equal. */
torch::Tensor
Resize(const torch::Tensor & images, int64_t height, int64_t width);

/** Parses "auto", "cpu", "cuda", "cuda:N"; throws focusnet::Error for anything else or an absent GPU. */
torch::Device
ParseDevice(const std::string & device);

} // namespace focusnet

#endif
