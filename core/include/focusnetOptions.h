/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetOptions_h
#define focusnetOptions_h

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
  const char * help;     ///< one line for --help and the docstrings

  /** The command's flag, "--batch-size". */
  std::string
  Flag() const;
  /** The range as --help shows it, "[1, 256]" or "(0, 1)". */
  std::string
  Range() const;
};

namespace option
{
inline constexpr NumericOption BatchSize{ "batch size", "batch_size", 1, 256, false, 8, "slices per forward pass" };
inline constexpr NumericOption Threads{ "threads", "threads", 0, 256, false, 0, "LibTorch threads (0: all cores)" };
inline constexpr NumericOption Threshold{ "threshold",
                                          "threshold",
                                          0,
                                          1,
                                          true,
                                          std::numeric_limits<double>::quiet_NaN(),
                                          "probability threshold (default: the model file's)" };
} // namespace option

/** Why value is out of option's range, in the words every front door uses ("batch size must lie in [1, 256], not
 * 0"), or "" when it is within it. NaN is out of every range. */
std::string
OptionRefusal(const NumericOption & option, double value);

/** Throws focusnet::Error with OptionRefusal's words unless value is within option's range. */
void
CheckOption(const NumericOption & option, double value);

/** CheckOption for a threshold that may be NaN: "the model file's". */
void
CheckThreshold(double threshold);

} // namespace focusnet

#endif
