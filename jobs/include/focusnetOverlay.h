/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetOverlay_h
#define focusnetOverlay_h

#include "focusnetDisplayWindow.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace focusnet
{

/** What an overlay picture shows: how many slices, evenly spaced across the slice axis, in a mosaic. */
struct OverlayOptions
{
  unsigned int slices{ 1 };     ///< 1: the middle slice
  int          sliceAxis{ -1 }; ///< -1: the last axis
  /** The result's quality flags (FlagQuality's names): when there are any, the picture gets an amber border and
   * their names in its top left corner. */
  std::vector<std::string> flags;
};

/** The colour of a flagged picture's border and text: amber. */
inline constexpr std::array<std::uint8_t, 3> FlagColour{ { 255, 176, 0 } };

/** `focusnet overlay`: a PNG mosaic of options.slices slices of image with the outline of the label map (any
 * non-zero label) in colour. The image and the label map must have the same size. Nothing is written on failure;
 * an existing output is replaced only with overwrite. Throws focusnet::Error naming the file. */
void
WriteOverlayFile(const std::string &                 image,
                 const std::string &                 labelMap,
                 const std::string &                 output,
                 const std::array<std::uint8_t, 3> & colour,
                 const OverlayOptions &              options,
                 bool                                overwrite);

} // namespace focusnet

#endif
