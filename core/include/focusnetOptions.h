/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetOptions_h
#define focusnetOptions_h

#include <cstddef>
#include <iterator>
#include <limits>
#include <string>

namespace focusnet
{

/** \brief A numeric option as every front door offers it, described once.
 *
 * The command's flags, the Python keywords' defaults, the ITK filter's defaults and every check take their range,
 * default and words from here, so that a value is refused the same way whichever door it enters by. The library
 * checks the values itself where they are used (CheckInferenceOptions, SegmentImageSource, the ITK filter), so a
 * front door that forgets a check still cannot run with a bad value.
 * \ingroup FocusNet
 */
struct NumericOption
{
  const char * name;    ///< in messages, the same in every front door: "batch size"
  const char * keyword; ///< the Python keyword; with '-' for '_', the command's flag: "batch_size"
  double       lowest;  ///< the range's ends
  double       highest;
  bool         open;     ///< (lowest, highest) instead of [lowest, highest]
  double       fallback; ///< the default; NaN where it is not a number (the threshold: the model file's)
  double       step;     ///< the smallest change a widget offers (Slicer's spin boxes); an open range's ends are
                         ///< offered one step inside
  const char * help;     ///< one line for --help and the docstrings

  /** The command's flag, "--batch-size". */
  std::string
  Flag() const;
  /** The range as --help shows it, "[1, 256]" or "(0, 1)". */
  std::string
  Range() const;
};

/** An option whose value is a word: the device ("auto", "cpu", "cuda", "cuda:N") or the precision. */
struct WordOption
{
  const char * name;     ///< in messages: "precision"
  const char * keyword;  ///< the Python keyword; the command's flag is "--" + keyword
  const char * fallback; ///< the default
  const char * values;   ///< what it accepts, in words: "fp32, bf16 or fp16"
  const char * help;     ///< one line for --help and the docstrings
  bool (*accepts)(const std::string & text);
  const char * const * menu; ///< the values a menu lists (Slicer's), the default first
  std::size_t          menuSize;
};

/** "auto", "cpu", "cuda" or "cuda:N": a device's name as option::Device accepts it (whether this machine has it is
 * ResolveDevice's check). */
bool
IsDeviceName(const std::string & text);
/** "fp32", "bf16" or "fp16" (whether the device runs it is CheckPrecision's check). */
bool
IsPrecisionName(const std::string & text);

/** An option that is on or off (off by default). */
struct FlagOption
{
  const char * name;    ///< in messages
  const char * keyword; ///< the Python keyword; the command's flag is "--" + keyword
  const char * help;    ///< one line for --help and the docstrings
};

namespace option
{
inline constexpr NumericOption BatchSize{ "batch size", "batch_size", 1, 256, false, 8, 1, "slices per forward pass" };
inline constexpr NumericOption Threads{ "threads", "threads", 0, 256, false, 0, 1, "LibTorch threads (0: all cores)" };
inline constexpr NumericOption Threshold{ "threshold", "threshold",
                                          0,           1,
                                          true,        std::numeric_limits<double>::quiet_NaN(),
                                          0.01,        "probability threshold (default: the model file's)" };

/** The devices a menu offers (Slicer's): any cuda:N is a device's name, these are the ones listed. */
inline constexpr const char * DeviceMenu[] = { "auto", "cpu", "cuda", "cuda:0", "cuda:1", "cuda:2", "cuda:3" };
inline constexpr const char * PrecisionNames[] = { "fp32", "bf16", "fp16" };

inline constexpr WordOption Device{ "device",
                                    "device",
                                    "auto",
                                    "auto, cpu, cuda or cuda:N",
                                    "where the network runs (auto: a GPU when there is one)",
                                    IsDeviceName,
                                    DeviceMenu,
                                    std::size(DeviceMenu) };
inline constexpr WordOption Precision{ "precision",
                                       "precision",
                                       "fp32",
                                       "fp32, bf16 or fp16",
                                       "the network's number format: fp32; bf16 on CPUs with AVX512-BF16 or AMX and "
                                       "on GPUs; fp16 on GPUs",
                                       IsPrecisionName,
                                       PrecisionNames,
                                       std::size(PrecisionNames) };
inline constexpr FlagOption FlipAugmentation{ "test-time augmentation",
                                              "tta",
                                              "average over the mirror images the model was trained on (up to 3x "
                                              "slower)" };

/** Every option, for what is made from the description (the Slicer CLI's checks, focusnet-options). */
inline constexpr const NumericOption * Numeric[] = { &BatchSize, &Threads, &Threshold };
inline constexpr const WordOption *    Words[] = { &Device, &Precision };
inline constexpr const FlagOption *    Flags[] = { &FlipAugmentation };
} // namespace option

/** Why value is out of option's range, in the words every front door uses ("batch size must lie in [1, 256], not
 * 0"), or "" when it is within it. NaN is out of every range. */
std::string
OptionRefusal(const NumericOption & option, double value);

/** Throws focusnet::Error with OptionRefusal's words unless value is within option's range. */
void
CheckOption(const NumericOption & option, double value);

/** The shortest text that reads back as value: 0.2, not 0.20000000000000001. How every number of an option is
 * written, in messages and in what is made from the description. */
std::string
ShortestNumber(double value);

/** CheckOption for a threshold that may be NaN: "the model file's". */
void
CheckThreshold(double threshold);

/** Why text is not a device or a precision as option::Device and option::Precision accept them ("device must be
 * auto, cpu, cuda or cuda:N, not 'gpu'"), or "" when it is one. Whether this machine has the device, or runs the
 * precision on it, is the engine's check (ResolveDevice, CheckPrecision). */
std::string
OptionRefusal(const WordOption & option, const std::string & text);

/** Throws focusnet::Error with OptionRefusal's words unless option accepts text. */
void
CheckOption(const WordOption & option, const std::string & text);

} // namespace focusnet

#endif
