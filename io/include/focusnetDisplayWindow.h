/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetDisplayWindow_h
#define focusnetDisplayWindow_h

#include <array>
#include <cstddef>

namespace focusnet
{

/** The window a gray image is shown in: CT (air below -900 HU) in a lung window (-600 / 1500) when lung-like voxels
 * (-950 to -300 HU) are at least 20% of those shown, else a soft-tissue window (40 / 400); other images from their
 * 1st to 99th percentile. Returns {low, high}. */
std::array<float, 2>
DisplayWindow(const float * values, std::size_t count);

} // namespace focusnet

#endif
