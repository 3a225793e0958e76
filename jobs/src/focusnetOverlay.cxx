/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetOverlay.hxx"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"

#include <algorithm>
#include <iterator>

namespace focusnet
{
namespace
{
/** A 5 x 7 pixel font of the letters and the hyphen that flag names are made of: rows top to bottom, '#' drawn. */
struct Glyph
{
  char         letter;
  const char * rows; // seven rows of five, separated by spaces
};
constexpr Glyph Font[] = {
  { 'a', "..... ..... .###. ....# .#### #...# .####" }, { 'b', "#.... #.... ####. #...# #...# #...# ####." },
  { 'c', "..... ..... .###. #.... #.... #...# .###." }, { 'd', "....# ....# .#### #...# #...# #...# .####" },
  { 'e', "..... ..... .###. #...# ##### #.... .###." }, { 'f', "..##. .#..# .#... ###.. .#... .#... .#..." },
  { 'g', "..... ..... .#### #...# .#### ....# .###." }, { 'h', "#.... #.... #.##. ##..# #...# #...# #...#" },
  { 'i', "..#.. ..... .##.. ..#.. ..#.. ..#.. .###." }, { 'j', "...#. ..... ..##. ...#. ...#. #..#. .##.." },
  { 'k', "#.... #.... #..#. #.#.. ##... #.#.. #..#." }, { 'l', ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###." },
  { 'm', "..... ..... ##.#. #.#.# #.#.# #...# #...#" }, { 'n', "..... ..... #.##. ##..# #...# #...# #...#" },
  { 'o', "..... ..... .###. #...# #...# #...# .###." }, { 'p', "..... ..... ####. #...# ####. #.... #...." },
  { 'q', "..... ..... .#### #...# .#### ....# ....#" }, { 'r', "..... ..... #.##. ##..# #.... #.... #...." },
  { 's', "..... ..... .#### #.... .###. ....# ####." }, { 't', ".#... .#... ###.. .#... .#... .#..# ..##." },
  { 'u', "..... ..... #...# #...# #...# #..## .##.#" }, { 'v', "..... ..... #...# #...# #...# .#.#. ..#.." },
  { 'w', "..... ..... #...# #...# #.#.# #.#.# .#.#." }, { 'x', "..... ..... #...# .#.#. ..#.. .#.#. #...#" },
  { 'y', "..... ..... #...# #...# .#### ....# .###." }, { 'z', "..... ..... ##### ...#. ..#.. .#... #####" },
  { '-', "..... ..... ..... ##### ..... ..... ....." },
};
constexpr std::int64_t GlyphWidth = 5, GlyphHeight = 7;

template <typename TImage>
void
Overlay(const ImageSource &                 imageSource,
        const ImageSource &                 labelSource,
        const std::string &                 output,
        const std::array<std::uint8_t, 3> & colour,
        const OverlayOptions &              options)
{
  constexpr unsigned int D = TImage::ImageDimension;
  const auto             image = ReadImageSource<TImage>(imageSource);
  const auto             labels = ReadImageSource<itk::Image<std::uint8_t, D>>(labelSource);
  if (labels->GetLargestPossibleRegion().GetSize() != image->GetLargestPossibleRegion().GetSize())
  {
    throw Error(labelSource.path + ": the label map's size differs from the image " + imageSource.path);
  }
  unsigned int axis = D == 3 ? 2 : D;
  if (options.sliceAxis >= 0)
  {
    if (D == 2 || options.sliceAxis > 2)
    {
      throw Error(imageSource.path + ": slice axis " + std::to_string(options.sliceAxis) + " is not an axis of this " +
                  std::to_string(D) + "D image");
    }
    axis = static_cast<unsigned int>(options.sliceAxis);
  }
  WriteOverlay(image.GetPointer(), labels.GetPointer(), axis, colour, options, output);
}
} // namespace

void
MarkFlags(std::uint8_t * rgb, std::int64_t width, std::int64_t height, const std::vector<std::string> & flags)
{
  if (flags.empty() || width <= 0 || height <= 0)
  {
    return;
  }
  auto paint = [&](std::int64_t x, std::int64_t y, const std::array<std::uint8_t, 3> & colour)
  {
    if (x >= 0 && x < width && y >= 0 && y < height)
    {
      std::copy(colour.begin(), colour.end(), rgb + 3 * (y * width + x));
    }
  };
  // Sizes that grow with the picture: a 512-pixel picture gets a 5-pixel border and letters drawn 2 x 2.
  const std::int64_t border = std::max<std::int64_t>(2, std::min(width, height) / 100);
  const std::int64_t scale = std::max<std::int64_t>(1, std::min(width, height) / 256);
  const std::int64_t cell = (GlyphWidth + 1) * scale, line = (GlyphHeight + 2) * scale;
  std::int64_t       top = border;
  for (const std::string & flag : flags)
  {
    const std::int64_t left = border;
    for (std::int64_t y = top; y < top + line; ++y) // a black ground a cell wider than the text
    {
      for (std::int64_t x = left; x < left + cell * static_cast<std::int64_t>(flag.size() + 1); ++x)
      {
        paint(x, y, { 0, 0, 0 });
      }
    }
    for (std::size_t i = 0; i < flag.size(); ++i)
    {
      const auto glyph =
        std::find_if(std::begin(Font), std::end(Font), [&](const Glyph & g) { return g.letter == flag[i]; });
      if (glyph == std::end(Font))
      {
        continue;
      }
      for (std::int64_t row = 0; row < GlyphHeight; ++row)
      {
        for (std::int64_t column = 0; column < GlyphWidth; ++column)
        {
          if (glyph->rows[row * (GlyphWidth + 1) + column] != '#')
          {
            continue;
          }
          for (std::int64_t dy = 0; dy < scale; ++dy)
          {
            for (std::int64_t dx = 0; dx < scale; ++dx)
            {
              paint(left + cell / 2 + cell * static_cast<std::int64_t>(i) + column * scale + dx,
                    top + scale + row * scale + dy,
                    FlagColour);
            }
          }
        }
      }
    }
    top += line;
  }
  // The border last: text that does not fit stops at it.
  for (std::int64_t y = 0; y < height; ++y)
  {
    for (std::int64_t x = 0; x < width; ++x)
    {
      if (x < border || y < border || x >= width - border || y >= height - border)
      {
        paint(x, y, FlagColour);
      }
    }
  }
}

void
WriteOverlayFile(const std::string &                 image,
                 const std::string &                 labelMap,
                 const std::string &                 output,
                 const std::array<std::uint8_t, 3> & colour,
                 const OverlayOptions &              options,
                 bool                                overwrite)
{
  CheckPictureFileName(output, "the overlay picture");
  CheckOutputFile(output, overwrite, image);
  const ImageSource imageSource = InspectImageSource(image);
  const ImageSource labelSource = InspectImageSource(labelMap);
  if (labelSource.dimension != imageSource.dimension || labelSource.components != 1)
  {
    throw Error(labelMap + ": not a label map of " + image + " (" + std::to_string(labelSource.dimension) + "D, " +
                std::to_string(labelSource.components) + " component(s))");
  }
  using RGB = itk::RGBPixel<unsigned char>;
  const bool color = imageSource.components > 1;
  if (imageSource.dimension == 2)
  {
    color ? Overlay<itk::Image<RGB, 2>>(imageSource, labelSource, output, colour, options)
          : Overlay<itk::Image<float, 2>>(imageSource, labelSource, output, colour, options);
  }
  else
  {
    color ? Overlay<itk::Image<RGB, 3>>(imageSource, labelSource, output, colour, options)
          : Overlay<itk::Image<float, 3>>(imageSource, labelSource, output, colour, options);
  }
}

} // namespace focusnet
