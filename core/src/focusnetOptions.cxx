/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetOptions.h"

#include "focusnetError.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace focusnet
{

namespace
{
std::string
Number(double value)
{
  std::ostringstream text;
  text.precision(17);
  text << value;
  return text.str();
}
} // namespace

std::string
NumericOption::Flag() const
{
  std::string flag = std::string("--") + keyword;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
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
  const std::string range = option.open ? "strictly between " + Number(option.lowest) + " and " + Number(option.highest)
                                        : "in [" + Number(option.lowest) + ", " + Number(option.highest) + "]";
  return std::string(option.name) + " must lie " + range + ", not " + Number(value);
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

} // namespace focusnet
