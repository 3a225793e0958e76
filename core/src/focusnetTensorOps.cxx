/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetTensorOps.h"

#include "focusnetError.h"
#include "focusnetInferenceEngine.h"
#include "focusnetOptions.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace focusnet
{

ScopedThreadCount::ScopedThreadCount(int threads)
  : m_Previous(at::get_num_threads())
{
  const int wanted = std::max(1, threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  if (wanted != m_Previous)
  {
    at::set_num_threads(wanted);
  }
}

ScopedThreadCount::~ScopedThreadCount()
{
  if (at::get_num_threads() != m_Previous)
  {
    at::set_num_threads(m_Previous);
  }
}

ScopedGlobalSeed::ScopedGlobalSeed(std::uint64_t seed)
{
  at::Generator               generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  m_State = generator.get_state();
  generator.set_current_seed(seed);
}

ScopedGlobalSeed::~ScopedGlobalSeed()
{
  at::Generator               generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(m_State);
}

torch::Tensor
Normalize(const torch::Tensor & images, const Normalization & normalization)
{
  if (normalization.kind == Normalization::Kind::Window)
  {
    const double low = normalization.windowCenter - normalization.windowWidth / 2.0;
    return (images.clamp(low, low + normalization.windowWidth) - low) / normalization.windowWidth;
  }
  const auto    channels = static_cast<int64_t>(normalization.mean.size());
  auto          options = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor mean = torch::tensor(normalization.mean, options).to(images.options()).view({ 1, channels, 1, 1 });
  torch::Tensor sd =
    torch::tensor(normalization.standardDeviation, options).to(images.options()).view({ 1, channels, 1, 1 });
  return (images - mean) / sd;
}

torch::Tensor
Resize(const torch::Tensor & images, int64_t height, int64_t width)
{
  if (images.size(2) == height && images.size(3) == width)
  {
    return images;
  }
  namespace F = torch::nn::functional;
  const bool shrinking = height < images.size(2) || width < images.size(3);
  return F::interpolate(images,
                        F::InterpolateFuncOptions()
                          .size(std::vector<int64_t>{ height, width })
                          .mode(torch::kBilinear)
                          .align_corners(false)
                          .antialias(shrinking));
}

torch::Device
ParseDevice(const Device & device)
{
  switch (device.GetKind())
  {
    case Device::Kind::Auto:
      return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    case Device::Kind::Cpu:
      return torch::Device(torch::kCPU);
    case Device::Kind::Cuda:
      break;
  }
  if (!torch::cuda::is_available())
  {
    throw Error("device '" + device.Name() + "' requested but this LibTorch build sees no CUDA device");
  }
  if (device.GetIndex() < 0)
  {
    return torch::Device(torch::kCUDA);
  }
  if (device.GetIndex() >= static_cast<int>(torch::cuda::device_count()))
  {
    throw Error("device '" + device.Name() + "' requested but only " + std::to_string(torch::cuda::device_count()) +
                " CUDA device(s) are present");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device.GetIndex()));
}

std::string
ResolveDevice(const Device & device)
{
  return ParseDevice(device).str();
}

bool
CudaAvailable()
{
  return torch::cuda::is_available();
}

torch::Tensor
DiceLoss(const torch::Tensor & probabilities, const torch::Tensor & truth, double smoothing)
{
  const torch::Tensor p = probabilities.flatten(1);
  const torch::Tensor y = truth.flatten(1);
  const torch::Tensor dice = (2.0 * (p * y).sum(1) + smoothing) / (p.sum(1) + y.sum(1) + smoothing);
  return 1.0 - dice.mean();
}

} // namespace focusnet
