/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetOptions_h
#define focusnetOptions_h

#include <cstddef>
#include <iosfwd>
#include <iterator>
#include <limits>
#include <optional>
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
  bool         whole;    ///< whole numbers only (an int field)
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
inline constexpr NumericOption BatchSize{
  "batch size", "batch_size", 1, 256, false, true, 8, 1, "slices per forward pass"
};
inline constexpr NumericOption Threads{ "threads", "threads", 0,
                                        256,       false,     true,
                                        0,         1,         "LibTorch threads (0: all cores)" };
inline constexpr NumericOption Threshold{ "threshold",
                                          "threshold",
                                          0,
                                          1,
                                          true,
                                          false,
                                          std::numeric_limits<double>::quiet_NaN(),
                                          0.01,
                                          "probability threshold (default: the model file's)" };

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

/** text as a number written in decimal ("8", "-1", "0.25", "1e-3"), or nothing: not hexadecimal, octal's leading 0
 * read as octal, infinity or NaN, nor a number too small or too large for a double (which strtod would round to 0 or
 * infinity). Every door that reads options as text reads their numbers with this, so what is checked is what is
 * used. */
std::optional<double>
DecimalNumber(const std::string & text);

/** Why text is not a value of option as a door that reads text takes it: not a decimal number ("batch size must be a
 * decimal number, not '0x1'"), not whole where the option is ("batch size must be a whole number, not 2.5"), or out
 * of range (OptionRefusal above); "" when it is one. */
std::string
TextRefusal(const NumericOption & option, const std::string & text);

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

/** \brief Where a network runs, as option::Device names it: "auto" (a GPU when LibTorch sees one, the default),
 * "cpu", "cuda" (the current GPU) or "cuda:N".
 *
 * A Device always holds one of those names: text becomes a Device only through option::Device's check, which throws
 * focusnet::Error in its words ("device must be auto, cpu, cuda or cuda:N, not 'gpu'"). It converts from text
 * implicitly, so options.device = "cpu" reads as before. Whether this machine has the device is ResolveDevice's check.
 * \ingroup FocusNet
 */
class Device
{
public:
  enum class Kind
  {
    Auto,
    Cpu,
    Cuda
  };

  Device();
  Device(const std::string & text);
  Device(const char * text);
  Device(std::nullptr_t) = delete;

  Kind
  GetKind() const
  {
    return m_Kind;
  }
  /** N of "cuda:N"; -1 for "cuda" (the current GPU) and for the other kinds. */
  int
  GetIndex() const
  {
    return m_Index;
  }
  /** The name it was made from, written as the option writes it: "cuda:1". */
  const std::string &
  Name() const
  {
    return m_Name;
  }

  friend bool
  operator==(const Device & a, const Device & b)
  {
    return a.m_Kind == b.m_Kind && a.m_Index == b.m_Index;
  }
  friend bool
  operator!=(const Device & a, const Device & b)
  {
    return !(a == b);
  }

private:
  Kind        m_Kind{ Kind::Auto };
  int         m_Index{ -1 };
  std::string m_Name;
};

/** \brief The network's number format, as option::Precision names it: "fp32" (the default), "bf16" or "fp16".
 *
 * Like Device: always one of those, made from text only through option::Precision's check. Whether the device runs
 * it is CheckPrecision's check.
 * \ingroup FocusNet
 */
class Precision
{
public:
  enum class Format
  {
    FP32,
    BF16,
    FP16
  };

  Precision();
  Precision(const std::string & text);
  Precision(const char * text);
  Precision(std::nullptr_t) = delete;

  Format
  GetFormat() const
  {
    return m_Format;
  }
  /** "fp32", "bf16" or "fp16". */
  const char *
  Name() const;

  friend bool
  operator==(const Precision & a, const Precision & b)
  {
    return a.m_Format == b.m_Format;
  }
  friend bool
  operator!=(const Precision & a, const Precision & b)
  {
    return !(a == b);
  }

private:
  Format m_Format{ Format::FP32 };
};

/** The name, as the option writes it (and as gtest prints it). */
std::ostream &
operator<<(std::ostream & stream, const Device & device);
std::ostream &
operator<<(std::ostream & stream, const Precision & precision);

} // namespace focusnet

#endif
