/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetDisplayWindow.h"

#include <algorithm>
#include <vector>

namespace focusnet
{

std::array<float, 2>
DisplayWindow(const float * values, std::size_t count)
{
  if (count == 0)
  {
    return { 0.0F, 1.0F };
  }
  std::vector<float> sorted(values, values + count);
  std::sort(sorted.begin(), sorted.end());
  if (sorted.front() <= -900.0F) // air in Hounsfield units: CT
  {
    const auto lungLike =
      std::count_if(sorted.begin(), sorted.end(), [](float v) { return v > -950.0F && v < -300.0F; });
    const bool  lung = static_cast<double>(lungLike) >= 0.2 * static_cast<double>(count);
    const float center = lung ? -600.0F : 40.0F, width = lung ? 1500.0F : 400.0F;
    return { center - width / 2, center + width / 2 };
  }
  const float low = sorted[count / 100];
  return { low, std::max(low + 1e-3F, sorted[count - 1 - count / 100]) };
}

} // namespace focusnet
