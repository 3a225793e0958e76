/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetOptions.h"

#include "focusnetError.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ostream>
#include <sstream>

namespace focusnet
{


std::string
ShortestNumber(double value)
{
  if (std::trunc(value) == value && std::fabs(value) < 1e15) // whole: 10000000, not 1e+07 (-0 is 0)
  {
    return std::to_string(static_cast<long long>(value));
  }
  std::string text;
  for (int digits = 6; digits <= 17; ++digits)
  {
    std::ostringstream stream;
    stream.precision(digits);
    stream << value;
    text = stream.str();
    if (std::strtod(text.c_str(), nullptr) == value)
    {
      break;
    }
  }
  return text;
}

std::string
NumericOption::Flag() const
{
  std::string flag = std::string("--") + keyword;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string
NumericOption::Range() const
{
  return (open ? "(" : "[") + ShortestNumber(lowest) + ", " + ShortestNumber(highest) + (open ? ")" : "]");
}

std::string
OptionRefusal(const NumericOption & option, double value)
{
  const bool within = option.open ? value > option.lowest && value < option.highest
                                  : value >= option.lowest && value <= option.highest; // false for NaN
  if (within)
  {
    return {};
  }
  const std::string range =
    option.open ? "strictly between " + ShortestNumber(option.lowest) + " and " + ShortestNumber(option.highest)
                : "in " + option.Range();
  return std::string(option.name) + " must lie " + range + ", not " + ShortestNumber(value);
}

void
CheckOption(const NumericOption & option, double value)
{
  if (const std::string refusal = OptionRefusal(option, value); !refusal.empty())
  {
    throw Error(refusal);
  }
}

std::optional<double>
DecimalNumber(const std::string & text)
{
  if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string::npos)
  {
    return std::nullopt;
  }
  // from_chars: the same in every locale (strtod reads "0,25" where the decimal mark is a comma); no leading '+'.
  const char * first = text.c_str() + (text[0] == '+' && text.size() > 1 && text[1] != '-' ? 1 : 0);
  const char * last = text.c_str() + text.size();
  double       value = 0.0;
  const auto [end, error] = std::from_chars(first, last, value, std::chars_format::general);
  if (error != std::errc() || end != last)
  {
    return std::nullopt; // not a number, or too small or too large for a double
  }
  return value;
}

std::string
TextRefusal(const NumericOption & option, const std::string & text)
{
  const std::optional<double> value = DecimalNumber(text);
  if (!value)
  {
    return std::string(option.name) + " must be a decimal number, not '" + text + "'";
  }
  if (option.whole && std::trunc(*value) != *value)
  {
    return std::string(option.name) + " must be a whole number, not " + ShortestNumber(*value);
  }
  return OptionRefusal(option, *value);
}

void
CheckThreshold(double threshold)
{
  if (!std::isnan(threshold))
  {
    CheckOption(option::Threshold, threshold);
  }
}

bool
IsDeviceName(const std::string & text)
{
  if (text == "auto" || text == "cpu" || text == "cuda")
  {
    return true;
  }
  const std::string index = text.rfind("cuda:", 0) == 0 ? text.substr(5) : std::string();
  return !index.empty() && index.size() <= 4 &&
         std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool
IsPrecisionName(const std::string & text)
{
  return std::find(std::begin(option::PrecisionNames), std::end(option::PrecisionNames), text) !=
         std::end(option::PrecisionNames);
}

std::string
OptionRefusal(const WordOption & option, const std::string & text)
{
  return option.accepts(text) ? std::string()
                              : std::string(option.name) + " must be " + option.values + ", not '" + text + "'";
}

void
CheckOption(const WordOption & option, const std::string & text)
{
  if (const std::string refusal = OptionRefusal(option, text); !refusal.empty())
  {
    throw Error(refusal);
  }
}

Device::Device()
  : Device(option::Device.fallback)
{
}

Device::Device(const char * text)
  : Device(std::string(text))
{
}

Device::Device(const std::string & text)
{
  CheckOption(option::Device, text);
  if (text == "cpu")
  {
    m_Kind = Kind::Cpu;
  }
  else if (text.rfind("cuda", 0) == 0)
  {
    m_Kind = Kind::Cuda;
    m_Index = text.size() > 4 ? std::stoi(text.substr(5)) : -1; // IsDeviceName: at most 4 digits
  }
  m_Name = m_Index < 0 ? text : "cuda:" + std::to_string(m_Index);
}

Precision::Precision()
  : Precision(option::Precision.fallback)
{
}

Precision::Precision(const char * text)
  : Precision(std::string(text))
{
}

Precision::Precision(const std::string & text)
{
  CheckOption(option::Precision, text);
  const auto * name = std::find(std::begin(option::PrecisionNames), std::end(option::PrecisionNames), text);
  m_Format = static_cast<Format>(name - std::begin(option::PrecisionNames)); // PrecisionNames is in Format's order
}

const char *
Precision::Name() const
{
  return option::PrecisionNames[static_cast<int>(m_Format)];
}

std::ostream &
operator<<(std::ostream & stream, const Device & device)
{
  return stream << device.Name();
}

std::ostream &
operator<<(std::ostream & stream, const Precision & precision)
{
  return stream << precision.Name();
}

} // namespace focusnet
