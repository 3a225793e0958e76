/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetVTKGeometry_h
#define focusnetVTKGeometry_h

// Internal to FocusNet::VTK. VTK 9.1's extraction filters and image mappers ignore vtkImageData's direction matrix:
// they work in index space scaled by the spacing, and the origin and direction are applied after, as a matrix.

#include <vtkImageData.h>
#include <vtkMatrix3x3.h>
#include <vtkMatrix4x4.h>
#include <vtkSmartPointer.h>

namespace focusnet
{

/** The image with origin 0 and the identity direction: index space scaled by the spacing. Shares the scalars. */
inline vtkSmartPointer<vtkImageData>
IndexSpaceImage(vtkImageData * image)
{
  auto indexSpace = vtkSmartPointer<vtkImageData>::New();
  indexSpace->ShallowCopy(image);
  indexSpace->SetOrigin(0.0, 0.0, 0.0);
  indexSpace->SetDirectionMatrix(vtkSmartPointer<vtkMatrix3x3>::New());
  return indexSpace;
}

/** IndexSpaceImage's space -> physical space, LPS (ITK, DICOM) or RAS (Slicer: LPS with x and y negated). */
inline vtkSmartPointer<vtkMatrix4x4>
PhysicalMatrix(vtkImageData * image, bool ras)
{
  auto matrix = vtkSmartPointer<vtkMatrix4x4>::New();
  for (int r = 0; r < 3; ++r)
  {
    const double flip = ras && r < 2 ? -1.0 : 1.0;
    for (int c = 0; c < 3; ++c)
    {
      matrix->SetElement(r, c, flip * image->GetDirectionMatrix()->GetElement(r, c));
    }
    matrix->SetElement(r, 3, flip * image->GetOrigin()[r]);
  }
  return matrix;
}

} // namespace focusnet

#endif
