/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetQuality_h
#define focusnetQuality_h

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
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

/** Intensity quantiles at 0, 5, ..., 100 %: of a slice's input (the mean of a pixel's channels), as the model
 * receives it before normalisation (Hounsfield units for CT), and of a model's training images. */
inline constexpr std::size_t IntensityQuantileCount = 21;
using IntensityQuantiles = std::array<double, IntensityQuantileCount>;

/** The binary entropy of a probability in bits: 0 where the network is sure (p = 0 or 1, and for anything outside
 * (0, 1)), 1 at p = 0.5. */
float
BinaryEntropy(float p);

/** The quantiles of count pixels (channels interleaved), from a regular sample of at most 16384 of them. */
IntensityQuantiles
MeasureIntensity(const float * pixels, std::int64_t count, std::int64_t channels);

/** The quantiles of the mixture of several images' distributions, each image weighing the same. */
IntensityQuantiles
PoolQuantiles(const std::vector<IntensityQuantiles> & images);

/** How far an intensity distribution lies from a reference one, in units of the reference's spread: the mean
 * absolute difference of their 5 % ... 95 % quantiles over the reference's 95 % - 5 % range. */
double
IntensityDistance(const IntensityQuantiles & measured, const IntensityQuantiles & reference);

/** The pixel noise of a slice's input: the median absolute difference of horizontal neighbours (the mean of a
 * pixel's channels) over 0.954, the standard deviation of white noise that gives that median; from a regular sample of
 * at most 16384 pairs. */
inline constexpr double NoiseFromMedianDifference = 0.954;

/** What a slice's input is like, measured as the model receives it before normalisation (Hounsfield units for CT). */
struct InputQuality
{
  IntensityQuantiles intensity{};  ///< MeasureIntensity
  double             noise{ 0.0 }; ///< NoiseFromMedianDifference
  /** The pixels brighter than the model's training images' median intensity (the body, for CT): their count and the
   * sums of x, y, x * x and y * y, with x and y in the slice's physical units (index times spacing). */
  std::array<double, 5> bright{};
};

/** Measures a slice's input: height x width pixels of channels values (interleaved), x fastest; spacing: the
 * physical size of a pixel in x and in y; brightAbove: the model's training median (QualityReference::Median; NaN:
 * no bright pixels are counted). */
InputQuality
MeasureInput(const float *                 pixels,
             std::int64_t                  height,
             std::int64_t                  width,
             std::int64_t                  channels,
             const std::array<double, 2> & spacing,
             double                        brightAbove);

/** The connected components of a label (non-zero voxels) in a volume of size[0] x size[1] x size[2] voxels, x
 * fastest; voxels are connected when they share a face (4-connected in a slice, 6-connected in a volume). */
struct Components
{
  std::uint64_t count{ 0 };          ///< connected components
  std::uint64_t labelVoxels{ 0 };    ///< non-zero voxels
  std::uint64_t outsideLargest{ 0 }; ///< label voxels outside the KeptParts largest components
};
Components
CountComponents(const std::uint8_t * labels, const std::array<std::int64_t, 3> & size);

/** How a model's label maps are cleaned after the threshold: a recipe recorded in the model file ("clean_up"),
 * off unless it says so (docs/quality-control.md has the evaluation behind the default model's). The quality signals
 * are measured before it: they describe what the network gave. */
struct CleanUp
{
  /** Keep the label's largest this many face-connected components (3D in a volume), remove the rest; 0: keep all. */
  std::uint32_t keepComponents{ 0 };
  /** Label each background region of a slice (4-connected) that does not reach the slice's border. */
  bool fillHoles{ false };

  static constexpr std::uint32_t MostComponents = 1000;

  bool
  Enabled() const
  {
    return keepComponents != 0 || fillHoles;
  }
};

/** Cleans a label map in place: labels (non-zero: label) of size as CountComponents, slices across sliceAxis (0, 1
 * or 2) for the hole filling, which labels holes with value. Returns the label voxels after. */
std::uint64_t
ApplyCleanUp(std::uint8_t *                      labels,
             const std::array<std::int64_t, 3> & size,
             unsigned int                        sliceAxis,
             const CleanUp &                     recipe,
             std::uint8_t                        value);

/** The recipe in words: "keep the 2 largest components, fill holes", or "none". */
std::string
DescribeCleanUp(const CleanUp & recipe);

/** \class SliceQuality
 * \brief Signals of how far to trust the label map of one slice, measured on the network's probabilities.
 * \ingroup FocusNet
 */
struct SliceQuality
{
  std::uint64_t pixels{ 0 };
  std::uint64_t labelPixels{ 0 };      ///< probability at or above the threshold
  double        entropyBits{ 0.0 };    ///< the sum over the pixels of the binary entropy, in bits
  std::uint64_t outlinePixels{ 0 };    ///< pixels in the band around the outline (OutlineBandRadius)
  std::uint64_t uncertainOutline{ 0 }; ///< of those, uncertain ones (UncertainEntropyBits)
  std::uint64_t components{ 0 };       ///< 4-connected parts of the label
  std::uint64_t strayPixels{ 0 };      ///< label pixels outside the KeptParts largest parts
  /** With flip test-time augmentation (flipsMeasured): pixels that the label of any copy holds, and those that every
   * copy's holds (InferenceEngine's FlipAgreement: at the slice's size, against the model's threshold). */
  std::uint64_t flipLabelAny{ 0 }, flipLabelAll{ 0 };
  bool          flipsMeasured{ false };
  InputQuality  input{}; ///< of the slice's input (MeasureInput)
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
  std::uint64_t      slices{ 0 };
  std::uint64_t      slicesWithLabel{ 0 };
  std::uint64_t      voxels{ 0 };
  std::uint64_t      labelVoxels{ 0 };
  double             entropyBits{ 0.0 };
  std::uint64_t      outlineVoxels{ 0 };
  std::uint64_t      uncertainOutline{ 0 };
  std::uint64_t      components{ 0 };          ///< 6-connected in a volume, 4-connected in a 2D image
  std::uint64_t      strayVoxels{ 0 };         ///< label voxels outside the KeptParts largest components
  double             largestSliceLabel{ 0.0 }; ///< the largest share of a slice's pixels that are label
  IntensityQuantiles intensity{};              ///< of the whole input, its slices pooled
  /** The distance of intensity from the model's training images (IntensityDistance); NaN when the model file has
   * no quality reference. */
  double intensityDistance{ std::numeric_limits<double>::quiet_NaN() };
  double inputNoise{ 0.0 }; ///< the median of the slices' input noise (InputQuality::noise)
  /** The bright pixels' spread up-down over their spread left-right (standard deviations, the slices' moments
   * pooled; for a volume they also spread with the slices' centres): below 1 for most upright chest CT slices, above
   * 1 for most of them turned a quarter. NaN without a reference or bright pixels. */
  double        inputAspect{ std::numeric_limits<double>::quiet_NaN() };
  std::uint64_t flipLabelAny{ 0 }, flipLabelAll{ 0 }; ///< the slices' sums
  bool          flipsMeasured{ false };               ///< every slice's

  double
  MeanEntropy() const; ///< bits per voxel, 0..1
  double
  UncertainOutlineShare() const; ///< uncertain voxels in the outline band; 0 without an outline
  double
  StrayShare() const; ///< of the label voxels; 0 without a label
  double
  LabelSliceShare() const; ///< slices with any label, of all slices
  /** Of the pixels that any flipped copy labels, the share that not every copy labels; 0 without a label, NaN when
   * the flips were not run. */
  double
  FlipDisagreement() const;

  /** The signals by name, as every report writes them (summary.json, the batch CSV, Python, the Slicer CLI): the
   * ratios above and the counts a reader needs beside them. */
  std::vector<std::pair<std::string, double>>
  Values() const;
};

/** What a model's training data looked like and where its results stop being trustworthy: recorded in the model
 * file (ModelMetadata::quality) by focusnet-train and by focusnet calibrate, read by FlagQuality. */
struct QualityReference
{
  std::string        modality;    ///< the DICOM modality the model was trained on ("CT"); empty: not recorded
  IntensityQuantiles intensity{}; ///< of the training images, pooled (PoolQuantiles)
  /** The range of the share of a training slice's pixels that are label, over the slices with label. */
  double labelFractionLow{ 0.0 }, labelFractionHigh{ 1.0 };
  /** Flags are raised above these: the intensity distance, the mean entropy, the uncertain share of the outline,
   * the stray share. */
  double intensityDistanceLimit{ 0.0 }, meanEntropyLimit{ 0.0 }, uncertainOutlineLimit{ 0.0 }, strayShareLimit{ 0.0 };
  /** Limits that model files made before them do not carry (infinite: not judged): the input noise, the flips'
   * disagreement (only a reference calibrated with the model's flips has it), and the range of the input aspect. */
  double      inputNoiseLimit{ std::numeric_limits<double>::infinity() };
  double      flipDisagreementLimit{ std::numeric_limits<double>::infinity() };
  double      aspectLow{ 0.0 }, aspectHigh{ std::numeric_limits<double>::infinity() };
  std::string method;           ///< how the values were measured and the limits chosen, in words
  bool        present{ false }; ///< false for model files that carry none

  /** The limits from signals measured on a validation split: Margin times the largest value of each. */
  static constexpr double Margin = 1.5;

  /** The training images' median intensity, above which InputQuality counts a pixel bright; NaN when absent. */
  double
  Median() const;
};

/** Throws focusnet::Error unless modality is empty or a DICOM modality (capitals, digits, '_', at most 16): "CT". */
void
CheckModality(const std::string & modality);

/** The names of the flags, in the order FlagQuality raises them. */
inline constexpr const char * QualityFlagNames[] = { "no-target",
                                                     "out-of-distribution",
                                                     "implausible-volume",
                                                     "uncertain",
                                                     "fragmented" };

/** The names in text, separated by spaces as FlagNames writes them ("" for none); throws focusnet::Error naming an
 * unknown one. */
std::vector<std::string>
ParseFlagNames(const std::string & text);

/** A named reason not to trust a result: one of QualityFlagNames. */
struct QualityFlag
{
  std::string name;
  std::string reason; ///< in words, with the measured value and the limit
};

/** Sums the slices' signals; volume: the components of the whole label (CountComponents), which for a 2D image are
 * its one slice's. With a reference (present), also the intensity distance from it. */
SeriesQuality
SummarizeQuality(const std::vector<SliceQuality> & slices,
                 const Components &                volume,
                 const QualityReference &          reference = {});

/** The flags a result earns against its model's reference; modality: the input's DICOM modality (empty: unknown);
 * label: the structure's name, for the reasons. no-target is raised without a reference too. */
std::vector<QualityFlag>
FlagQuality(const SeriesQuality &    quality,
            const QualityReference & reference,
            const std::string &      modality,
            const std::string &      label);

/** The flags' names joined by spaces ("fragmented uncertain"), "" for none. */
std::string
FlagNames(const std::vector<QualityFlag> & flags);

/** One slice as a result of its own (its components 4-connected, slices_with_label 0 or 1), for per-slice reports. */
SeriesQuality
SummarizeSlice(const SliceQuality & slice, const QualityReference & reference = {});

/** One line for people: "mean entropy 0.012 bit, 3.1% of the outline uncertain, 2 components (0.4% stray)". */
std::string
DescribeQuality(const SeriesQuality & quality);

} // namespace focusnet

#endif
