/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetVTKImage_h
#define focusnetVTKImage_h

#include "itkImage.h"

#include <vtkImageData.h>
#include <vtkSmartPointer.h>

#include <cstdint>
#include <string>

namespace focusnet
{

/** An ITK image as a vtkImageData: the extent from the buffered region (index .. index + size - 1), and the origin,
 * spacing and direction matrix (vtkImageData has one since VTK 9) of the ITK image, so that every voxel has the same
 * physical (LPS) position in both. A 2D image is one slice thick with the identity in the third direction. No copy:
 * the scalars are the ITK image's pixel buffer, kept alive as long as the VTK array (as itk::ImageToVTKImageFilter,
 * a change to the pixels on one side shows on the other). Instantiated for unsigned char and float pixels, 2D, 3D. */
template <typename TPixel, unsigned int VDimension>
vtkSmartPointer<vtkImageData>
ToVTKImage(const itk::Image<TPixel, VDimension> * image);

/** A vtkImageData of one scalar component as an ITK image, the inverse of ToVTKImage. Throws focusnet::Error when the
 * scalar type or the number of components does not match TPixel, or a 2D image is asked of a volume. */
template <typename TPixel, unsigned int VDimension>
typename itk::Image<TPixel, VDimension>::Pointer
ToITKImage(vtkImageData * image);

/** A label map file or DICOM series (any format FocusNet reads) as vtkImageData of unsigned char with its geometry.
 * Throws focusnet::Error naming the file when it cannot be read or has more than one component. */
vtkSmartPointer<vtkImageData>
ReadLabelMapAsVTKImage(const std::string & fileName);

/** An image file or DICOM series as vtkImageData of float with its geometry, for display: colour as luminance. */
vtkSmartPointer<vtkImageData>
ReadImageAsVTKImage(const std::string & fileName);

/** Writes an image as VTK XML image data (.vti, compressed), which ParaView opens with its geometry. Atomic; throws
 * focusnet::Error naming the file. */
void
WriteVTKImage(vtkImageData * image, const std::string & fileName);

} // namespace focusnet

#endif
