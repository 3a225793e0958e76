/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetOptions.h"

#include "focusnetError.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace focusnet
{


std::string
ShortestNumber(double value)
{
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

} // namespace focusnet
