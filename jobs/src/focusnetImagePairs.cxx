/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetImagePairs.h"

#include "focusnetError.h"
#include "focusnetImageIO.hxx"

#include "itkImageRegionConstIterator.h"
#include "itkRGBPixel.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace focusnet
{
namespace fs = std::filesystem;

namespace
{
std::vector<fs::path>
RegularFiles(const std::string & folder)
{
  std::error_code error;
  if (!fs::is_directory(folder, error))
  {
    throw Error(folder + ": no such folder");
  }
  std::vector<fs::path> files;
  for (const auto & entry : fs::directory_iterator(folder))
  {
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.')
    {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

template <typename TImage>
typename TImage::Pointer
Read2D(const ImageSource & source)
{
  const std::string & fileName = source.path;
  // A single DICOM slice is a 3D image one slice thick: its first slice is the 2D image.
  if (source.dimension != 2 && !(source.dimension == 3 && source.size[2] == 1))
  {
    throw Error(fileName + ": training and evaluation take 2D images, this one is " + std::to_string(source.dimension) +
                "D");
  }
  return ReadImageSource<TImage>(source);
}
} // namespace

std::vector<ImagePair>
FindImagePairs(const std::string & imagesDir, const std::string & masksDir)
{
  const std::vector<fs::path> masks = RegularFiles(masksDir);
  std::vector<ImagePair>      pairs;
  for (const fs::path & image : RegularFiles(imagesDir))
  {
    const std::string stem = image.stem().string();
    auto              match = std::find_if(masks.begin(),
                              masks.end(),
                              [&](const fs::path & mask)
                              {
                                return mask.filename() == image.filename() || mask.stem() == stem ||
                                       mask.stem() == stem + "_segmentation" || mask.stem() == stem + "_mask";
                              });
    if (match == masks.end())
    {
      throw Error(image.string() + ": no mask of the same name in " + masksDir);
    }
    pairs.push_back({ stem, image.string(), match->string() });
  }
  if (pairs.empty())
  {
    throw Error(imagesDir + ": the folder holds no images");
  }
  return pairs;
}

std::vector<ImagePair>
ReadImagePairList(const std::string & listFile)
{
  std::ifstream file(listFile);
  if (!file)
  {
    throw Error(listFile + ": cannot open list file");
  }
  const fs::path         folder = fs::path(listFile).parent_path();
  std::vector<ImagePair> pairs;
  std::string            line;
  for (int number = 1; std::getline(file, line); ++number)
  {
    if (line.empty() || line.front() == '#')
    {
      continue;
    }
    const auto separator = line.find_first_of(",\t");
    if (separator == std::string::npos)
    {
      throw Error(listFile + ":" + std::to_string(number) + ": expected \"image,mask\"");
    }
    const fs::path image = folder / line.substr(0, separator);
    const fs::path mask = folder / line.substr(separator + 1);
    pairs.push_back({ image.stem().string(), image.string(), mask.string() });
  }
  if (pairs.empty())
  {
    throw Error(listFile + ": the list names no image");
  }
  return pairs;
}

ImageSlice
ReadImagePair(const ImagePair & pair)
{
  using MaskType = itk::Image<std::uint8_t, 2>;
  ImageSlice   slice;
  itk::Size<2> size;
  auto         keepGeometry = [&](const itk::ImageBase<2> * image)
  {
    size = image->GetLargestPossibleRegion().GetSize();
    slice.spacing[0] = image->GetSpacing()[0];
    slice.spacing[1] = image->GetSpacing()[1];
  };
  const ImageSource source = InspectImageSource(pair.image);
  const unsigned    components = source.components;
  if (components == 1)
  {
    const auto image = Read2D<itk::Image<float, 2>>(source);
    keepGeometry(image);
    slice.channels = 1;
    slice.pixels.assign(image->GetBufferPointer(), image->GetBufferPointer() + size[0] * size[1]);
  }
  else
  {
    using RgbType = itk::Image<itk::RGBPixel<std::uint8_t>, 2>;
    const auto image = Read2D<RgbType>(source);
    keepGeometry(image);
    slice.channels = 3;
    slice.pixels.reserve(size[0] * size[1] * 3);
    for (itk::ImageRegionConstIterator<RgbType> it(image, image->GetLargestPossibleRegion()); !it.IsAtEnd(); ++it)
    {
      for (unsigned c = 0; c < 3; ++c)
      {
        slice.pixels.push_back(static_cast<float>(it.Get()[c]));
      }
    }
  }
  slice.width = static_cast<std::int64_t>(size[0]);
  slice.height = static_cast<std::int64_t>(size[1]);

  const auto mask = Read2D<MaskType>(InspectImageSource(pair.mask));
  if (mask->GetLargestPossibleRegion().GetSize() != size)
  {
    throw Error(pair.mask + ": mask size differs from its image " + pair.image);
  }
  slice.mask.resize(size[0] * size[1]);
  std::transform(mask->GetBufferPointer(),
                 mask->GetBufferPointer() + slice.mask.size(),
                 slice.mask.begin(),
                 [](std::uint8_t v) { return static_cast<std::uint8_t>(v != 0); });
  return slice;
}

} // namespace focusnet
