/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetOverlay_hxx
#define focusnetOverlay_hxx

// Internal to FocusNet::Jobs: the one picture code of `segment --overlay` and `focusnet overlay`.

#include "focusnetImageIO.hxx"
#include "focusnetOverlay.h"
#include "itkFocusNetImageFilter.h"
#include "itkImageRegionConstIterator.h"
#include "itkRGBPixel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace focusnet
{

/** Marks a picture of width x height RGB pixels (row by row) as flagged: a FlagColour border and the flags' names,
 * one a line, in its top left corner on a black ground (clipped to the picture). Nothing without flags. */
void
MarkFlags(std::uint8_t * rgb, std::int64_t width, std::int64_t height, const std::vector<std::string> & flags);

/** A mosaic of options.slices slices across axis (evenly spaced; one: the middle one), the label's outline drawn in
 * colour: two pixels wide, the label's edge pixels and the background pixels touching them. Gray images are shown
 * in DisplayWindow's window, RGB images as they are. */
template <typename TImage, typename TLabelImage>
void
WriteOverlay(const TImage *                      image,
             const TLabelImage *                 labels,
             unsigned int                        axis,
             const std::array<std::uint8_t, 3> & colour,
             const OverlayOptions &              options,
             const std::string &                 fileName)
{
  using RGB = itk::RGBPixel<unsigned char>;
  using PictureType = itk::Image<RGB, 2>;
  constexpr bool gray = itk::FocusNetDetail::ComponentCount<typename TImage::PixelType>() == 1;
  const auto     region = image->GetLargestPossibleRegion();
  const auto     shape = itk::FocusNetDetail::SliceShape(region, axis);
  const int64_t  width = shape.first, height = shape.second; // not a structured binding: the lambdas below use them
  const int64_t  slices = axis < TImage::ImageDimension ? static_cast<int64_t>(region.GetSize(axis)) : 1;
  const int64_t  count = std::clamp<int64_t>(options.slices, 1, slices);
  const int64_t  columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int64_t  rows = (count + columns - 1) / columns;

  std::vector<float>        values; // count slices one after the other, channels interleaved
  std::vector<std::uint8_t> inside;
  for (int64_t n = 0; n < count; ++n)
  {
    const auto slice = itk::FocusNetDetail::SliceRegion(region, axis, (2 * n + 1) * slices / (2 * count));
    for (itk::ImageRegionConstIterator<TLabelImage> it(labels, slice); !it.IsAtEnd(); ++it)
    {
      inside.push_back(it.Get() != 0);
    }
    for (itk::ImageRegionConstIterator<TImage> it(image, slice); !it.IsAtEnd(); ++it)
    {
      if constexpr (gray)
      {
        values.push_back(static_cast<float>(it.Get()));
      }
      else
      {
        for (unsigned c = 0; c < 3; ++c)
        {
          values.push_back(static_cast<float>(it.Get()[c]));
        }
      }
    }
  }
  const auto [low, high] = gray ? DisplayWindow(values.data(), values.size()) : std::array<float, 2>{ 0.0F, 255.0F };

  auto picture = PictureType::New();
  picture->SetRegions(itk::Size<2>{
    { static_cast<itk::SizeValueType>(columns * width), static_cast<itk::SizeValueType>(rows * height) } });
  picture->Allocate(true); // tiles past the last slice stay black
  for (int64_t n = 0; n < count; ++n)
  {
    const std::uint8_t * in = inside.data() + n * width * height;
    const float *        value = values.data() + n * width * height * (gray ? 1 : 3);
    auto                 onEdge = [&](int64_t y, int64_t x)
    {
      for (int64_t dy = -1; dy <= 1; ++dy)
      {
        for (int64_t dx = -1; dx <= 1; ++dx)
        {
          const int64_t ny = y + dy, nx = x + dx;
          const bool    neighbour = ny >= 0 && ny < height && nx >= 0 && nx < width && in[ny * width + nx];
          if (neighbour != static_cast<bool>(in[y * width + x]))
          {
            return true;
          }
        }
      }
      return false;
    };
    for (int64_t y = 0; y < height; ++y)
    {
      RGB * out = picture->GetBufferPointer() + ((n / columns) * height + y) * columns * width + (n % columns) * width;
      for (int64_t x = 0; x < width; ++x)
      {
        const int64_t i = y * width + x;
        for (unsigned c = 0; c < 3; ++c)
        {
          const float v = gray ? value[i] : value[3 * i + c];
          out[x][c] = static_cast<unsigned char>(std::clamp((v - low) / (high - low), 0.0F, 1.0F) * 255.0F + 0.5F);
        }
        if (onEdge(y, x))
        {
          out[x].Set(colour[0], colour[1], colour[2]);
        }
      }
    }
  }
  MarkFlags(reinterpret_cast<std::uint8_t *>(picture->GetBufferPointer()), columns * width, rows * height, options.flags);
  WriteImageAtomically(picture.GetPointer(), fileName);
}

} // namespace focusnet

#endif
