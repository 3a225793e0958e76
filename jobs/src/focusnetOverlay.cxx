/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetOverlay.hxx"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"

namespace focusnet
{
namespace
{
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
