/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetImagePairs_h
#define focusnetImagePairs_h

#include <cstdint>
#include <string>
#include <vector>

namespace focusnet
{

/** An image and its ground-truth mask. */
struct ImagePair
{
  std::string name; ///< the image's file name without extension
  std::string image;
  std::string mask;
};

/** Pairs every image in imagesDir with the mask in masksDir of the same name: the same file name, the same
 * stem with another extension, or the stem followed by "_segmentation" or "_mask" (as in ISIC 2017).
 * Sorted by name. Throws focusnet::Error naming an image without a mask or an empty folder. */
std::vector<ImagePair>
FindImagePairs(const std::string & imagesDir, const std::string & masksDir);

/** Reads a list file: one "image,mask" pair per line (comma or tab), paths relative to the list's folder;
 * empty lines and lines starting with # are skipped. */
std::vector<ImagePair>
ReadImagePairList(const std::string & listFile);

/** One 2D image as float values (channels interleaved) with its binary mask. */
struct ImageSlice
{
  std::int64_t              height{ 0 };
  std::int64_t              width{ 0 };
  std::int64_t              channels{ 0 };
  double                    spacing[2]{ 1.0, 1.0 }; ///< x (along a row), y
  std::vector<float>        pixels;                 ///< height x width x channels
  std::vector<std::uint8_t> mask;                   ///< height x width, 0 or 1 (any non-zero mask value is foreground)
};

/** Reads a pair of 2D files: gray (any integer or float type, e.g. int16 CT) or RGB images; masks 0/255 or 0/1.
 * Throws focusnet::Error naming the file when it cannot be read, is not 2D, or sizes differ. */
ImageSlice
ReadImagePair(const ImagePair & pair);

} // namespace focusnet

#endif
