/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetImageFileChecks_h
#define focusnetImageFileChecks_h

// Checks of an image file's header against what reading it would do, made before any pixel is read: ITK allocates
// whatever a header declares, and its NIfTI, MetaImage and JPEG readers return a file cut short as if it were whole.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace focusnet
{

/** The most voxels (times components) an input may declare: $FOCUSNET_MAX_VOXELS, else 2^30 (4 GiB as float).
 * Throws focusnet::Error when the variable is not a positive whole number. */
std::uint64_t
MaximumVoxels();

/** Throws focusnet::Error naming path when size (times components) exceeds MaximumVoxels(). */
void
CheckDeclaredSize(const std::string & path, const std::vector<std::size_t> & size, unsigned int components);

/** Throws focusnet::Error naming fileName when the file holds fewer pixel bytes than its header declares
 * (imageBytes, uncompressed): NIfTI (.nii, .nii.gz, .hdr/.img), MetaImage (.mha, .mhd with one data file) and JPEG
 * (no end-of-image marker after the scan). Other formats' readers detect it themselves. */
void
CheckPixelDataComplete(const std::string & fileName, std::uint64_t imageBytes);

} // namespace focusnet

#endif
