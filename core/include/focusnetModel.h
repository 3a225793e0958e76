/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetModel_h
#define focusnetModel_h

#include "focusnetModelMetadata.h"

#include <cstdint>
#include <memory>
#include <string>

namespace focusnet
{

/** \class Model
 * \brief A segmentation network (FocusNet or U-Net) with its weights and metadata.
 *
 * The model file is the contract between training and inference. Its layout:
 *   8 bytes  "FOCUSNET" magic
 *   4 bytes  format version, little-endian uint32
 *   8 bytes  header length H, little-endian uint64
 *   H bytes  JSON header: {"metadata": {...}, "tensors": [{name, dtype, shape, offset, bytes}],
 *            "payload_bytes": P, "payload_crc32": C}
 *   P bytes  tensor payload, little-endian, in the order of "tensors"
 * It can be read without LibTorch (numpy, Slicer's Python). Load() rejects truncated, corrupt,
 * foreign and newer-format files with a message naming the file and the problem.
 *
 * LibTorch stays behind the pimpl: this header is cheap to include.
 * \ingroup FocusNet
 */
class Model
{
public:
  /** The newest file format this build reads and the one it writes. */
  static constexpr std::uint32_t FileFormatVersion = 1;

  /** A new network with freshly initialised weights (He-normal convolutions), deterministic for a seed. LibTorch's
   * global random generator is left as it was. */
  static Model
  Create(const ModelMetadata & metadata, std::uint64_t seed = 0);

  static Model
  Load(const std::string & fileName);

  /** Writes to a temporary name beside fileName and renames it: a failure leaves no file. */
  void
  Save(const std::string & fileName) const;

  /** Read-only: the metadata describes these weights, so it changes only with them (training does both). */
  const ModelMetadata &
  Metadata() const;

  /** The one part of the metadata measured after the weights are fixed: what the training data looked like and the
   * quality flags' limits (focusnet calibrate, focusnet-train). Throws focusnet::Error for an invalid reference. */
  void
  SetQualityReference(const QualityReference & reference);
  /** The clean-up of the label maps this model's users get (focusnet calibrate). Throws focusnet::Error when it is
   * out of range. */
  void
  SetCleanUp(const CleanUp & recipe);

  std::int64_t
  ParameterCount() const;

  /** Multiply-accumulate operations of one forward pass over one inputSize x inputSize slice. */
  std::int64_t
  MultiplyAccumulatesPerSlice() const;

  /** CRC-32 of the weights as stored in the file: identifies the weights in reports. */
  std::uint32_t
  WeightsChecksum() const;

  Model(Model &&) noexcept;
  Model &
  operator=(Model &&) noexcept;
  ~Model();

private:
  /** The LibTorch side, defined in the core's internal focusnetModelImpl.h; ModelInternals (there too) is the one
   * way in, for the inference engine and training. */
  struct Impl;
  friend struct ModelInternals;

  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_Impl;
};

} // namespace focusnet

#endif
