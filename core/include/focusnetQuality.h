/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetQuality_h
#define focusnetQuality_h

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace focusnet
{

/** A pixel is uncertain where the binary entropy of its probability is at least this many bits: a probability
 * between 0.110 and 0.890. */
inline constexpr double UncertainEntropyBits = 0.5;
/** The band around the outline where uncertainty is measured: pixels within this many pixels (in x and y, a square)
 * of an outline pixel, which is a label pixel with a background pixel beside it (sharing an edge). */
inline constexpr std::int64_t OutlineBandRadius = 2;
/** The parts of the label a result is expected to have: the lung model's two lungs. Label outside the largest
 * KeptParts connected components is "stray". */
inline constexpr std::size_t KeptParts = 2;

/** The connected components of a label (non-zero voxels) in a volume of size[0] x size[1] x size[2] voxels, x
 * fastest; voxels are connected when they share a face (4-connected in a slice, 6-connected in a volume). */
struct Components
{
  std::uint64_t count{ 0 };         ///< connected components
  std::uint64_t labelVoxels{ 0 };   ///< non-zero voxels
  std::uint64_t outsideLargest{ 0 }; ///< label voxels outside the KeptParts largest components
};
Components
CountComponents(const std::uint8_t * labels, const std::array<std::int64_t, 3> & size);

/** \class SliceQuality
 * \brief Signals of how far to trust the label map of one slice, measured on the network's probabilities.
 * \ingroup FocusNet
 */
struct SliceQuality
{
  std::uint64_t pixels{ 0 };
  std::uint64_t labelPixels{ 0 };        ///< probability at or above the threshold
  double        entropyBits{ 0.0 };      ///< the sum over the pixels of the binary entropy, in bits
  std::uint64_t outlinePixels{ 0 };      ///< pixels in the band around the outline (OutlineBandRadius)
  std::uint64_t uncertainOutline{ 0 };   ///< of those, uncertain ones (UncertainEntropyBits)
  std::uint64_t components{ 0 };         ///< 4-connected parts of the label
  std::uint64_t strayPixels{ 0 };        ///< label pixels outside the KeptParts largest parts
};

/** Measures one slice: probabilities height x width, x fastest, and the threshold that makes the label. */
SliceQuality
MeasureSlice(const float * probabilities, std::int64_t height, std::int64_t width, double threshold);

/** \class SeriesQuality
 * \brief The signals of a whole result (a 2D image is one slice): sums of its slices' and, for a volume, its
 * connected components counted in 3D. The ratios are what a reader compares across results.
 * \ingroup FocusNet
 */
struct SeriesQuality
{
  std::uint64_t slices{ 0 };
  std::uint64_t slicesWithLabel{ 0 };
  std::uint64_t voxels{ 0 };
  std::uint64_t labelVoxels{ 0 };
  double        entropyBits{ 0.0 };
  std::uint64_t outlineVoxels{ 0 };
  std::uint64_t uncertainOutline{ 0 };
  std::uint64_t components{ 0 };  ///< 6-connected in a volume, 4-connected in a 2D image
  std::uint64_t strayVoxels{ 0 }; ///< label voxels outside the KeptParts largest components

  double
  MeanEntropy() const; ///< bits per voxel, 0..1
  double
  UncertainOutlineShare() const; ///< uncertain voxels in the outline band; 0 without an outline
  double
  StrayShare() const; ///< of the label voxels; 0 without a label
  double
  LabelSliceShare() const; ///< slices with any label, of all slices

  /** The signals by name, as every report writes them (summary.json, the batch CSV, Python, the Slicer CLI): the
   * ratios above and the counts a reader needs beside them. */
  std::vector<std::pair<std::string, double>>
  Values() const;
};

/** Sums the slices' signals; volume: the components of the whole label (CountComponents), which for a 2D image are
 * its one slice's. */
SeriesQuality
SummarizeQuality(const std::vector<SliceQuality> & slices, const Components & volume);

/** One slice's signals by name, as SeriesQuality::Values() names them (slices_with_label: 0 or 1). */
std::vector<std::pair<std::string, double>>
QualityValues(const SliceQuality & slice);

/** One line for people: "mean entropy 0.012 bit, 3.1% of the outline uncertain, 2 components (0.4% stray)". */
std::string
DescribeQuality(const SeriesQuality & quality);

} // namespace focusnet

#endif
