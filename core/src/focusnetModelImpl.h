/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetModelImpl_h
#define focusnetModelImpl_h

// Internal: the LibTorch side of focusnet::Model, for the core's .cxx files and for training.

#include "focusnetModel.h"
#include "focusnetNetworks.h"

namespace focusnet
{

struct Model::Impl
{
  ModelMetadata                                metadata;
  std::shared_ptr<nn::SegmentationNetworkImpl> network;
};

/** Internal access to a model's network and metadata: the engine reads them, training changes both together. */
struct ModelInternals
{
  static const Model::Impl &
  Of(const Model & model)
  {
    return *model.m_Impl;
  }
  static Model::Impl &
  Of(Model & model)
  {
    return *model.m_Impl;
  }
};

/** The tensors a model file stores, in a fixed order: parameters, then buffers (batch-norm statistics). */
std::vector<std::pair<std::string, torch::Tensor>>
NamedState(const torch::nn::Module & network);

/** Copies weights and buffers between two networks of the same architecture (e.g. onto another device). */
void
CopyState(const torch::nn::Module & from, torch::nn::Module & to);

} // namespace focusnet

#endif
