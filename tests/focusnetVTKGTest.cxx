/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// ITK images and vtkImageData: the same voxel at the same physical point, both ways; surfaces where the voxels are.

#include "focusnetMesh.h"
#include "focusnetTestUtilities.h"
#include "focusnetVTKImage.h"

#include "itkImageRegionIteratorWithIndex.h"

#include <vtkMatrix3x3.h>

#include <cmath>
#include <vector>

namespace
{
using LabelImage = itk::Image<unsigned char, 3>;

/** An oblique, anisotropic volume whose buffered region does not start at index 0, its voxels numbered. */
LabelImage::Pointer
ObliqueVolume()
{
  auto image = LabelImage::New();
  image->SetRegions(LabelImage::RegionType({ { 3, -2, 5 } }, { { 7, 6, 4 } }));
  image->SetOrigin(itk::Point<double, 3>(std::array<double, 3>{ { -12.5, 40.0, 3.25 } }.data()));
  image->SetSpacing(itk::Vector<double, 3>(std::array<double, 3>{ { 0.7, 1.1, 2.5 } }.data()));
  LabelImage::DirectionType direction;
  const double              c = std::cos(0.3), s = std::sin(0.3);
  direction(0, 0) = c, direction(0, 1) = -s, direction(0, 2) = 0;
  direction(1, 0) = 0, direction(1, 1) = 0, direction(1, 2) = -1; // a left-handed frame on purpose
  direction(2, 0) = s, direction(2, 1) = c, direction(2, 2) = 0;
  image->SetDirection(direction);
  image->Allocate();
  unsigned char value = 0;
  for (itk::ImageRegionIteratorWithIndex<LabelImage> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    it.Set(value++);
  }
  return image;
}

TEST(FocusNetVTK, EveryVoxelIsAtTheSamePhysicalPointInBoth)
{
  const auto image = ObliqueVolume();
  const auto vtkImage = focusnet::ToVTKImage(image.GetPointer());
  for (itk::ImageRegionIteratorWithIndex<LabelImage> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    const auto            index = it.GetIndex();
    itk::Point<double, 3> itkPoint;
    image->TransformIndexToPhysicalPoint(index, itkPoint);
    int    ijk[3] = { static_cast<int>(index[0]), static_cast<int>(index[1]), static_cast<int>(index[2]) };
    double vtkPoint[3];
    vtkImage->TransformIndexToPhysicalPoint(ijk, vtkPoint);
    for (unsigned int d = 0; d < 3; ++d)
    {
      ASSERT_NEAR(vtkPoint[d], itkPoint[d], 1e-9) << index;
    }
    ASSERT_EQ(*static_cast<unsigned char *>(vtkImage->GetScalarPointer(ijk)), it.Get()) << index;
  }

  const auto back = focusnet::ToITKImage<unsigned char, 3>(vtkImage);
  EXPECT_EQ(back->GetBufferedRegion(), image->GetBufferedRegion());
  EXPECT_EQ(back->GetOrigin(), image->GetOrigin());
  EXPECT_EQ(back->GetSpacing(), image->GetSpacing());
  EXPECT_EQ(back->GetDirection(), image->GetDirection());
  EXPECT_TRUE(std::equal(back->GetBufferPointer(),
                         back->GetBufferPointer() + back->GetBufferedRegion().GetNumberOfPixels(),
                         image->GetBufferPointer()));
  focusnet::testing::ExpectErrorContaining([&] { focusnet::ToITKImage<float, 3>(vtkImage); }, { "unsigned char" });
  focusnet::testing::ExpectErrorContaining([&] { focusnet::ToITKImage<unsigned char, 2>(vtkImage); }, { "volume" });
}

TEST(FocusNetVTK, TheVTKImageSharesThePixelsAndKeepsThemAlive)
{
  auto                             image = ObliqueVolume();
  const auto                       pixels = image->GetBufferedRegion().GetNumberOfPixels();
  unsigned char *                  buffer = image->GetBufferPointer();
  const std::vector<unsigned char> values(buffer, buffer + pixels);
  const auto                       vtkImage = focusnet::ToVTKImage(image.GetPointer());
  EXPECT_EQ(vtkImage->GetScalarPointer(), static_cast<void *>(buffer)); // no copy

  // The ITK image gone (and its pipeline's next buffer never reaching VTK), the pixels are still there.
  image->SetPixelContainer(LabelImage::PixelContainer::New());
  image = nullptr;
  const auto * shared = static_cast<const unsigned char *>(vtkImage->GetScalarPointer());
  EXPECT_TRUE(std::equal(values.begin(), values.end(), shared));
}

TEST(FocusNetVTK, TheSharedPixelsAreReleasedWithTheVTKImage)
{
  const auto                              image = ObliqueVolume();
  const LabelImage::PixelContainerPointer container = image->GetPixelContainer();
  const int                               before = container->GetReferenceCount();
  {
    const auto vtkImage = focusnet::ToVTKImage(image.GetPointer());
    EXPECT_EQ(container->GetReferenceCount(), before + 1);
  }
  EXPECT_EQ(container->GetReferenceCount(), before);
}

TEST(FocusNetVTK, TheSurfaceLiesWhereTheLabelledVoxelsAre)
{
  auto image = ObliqueVolume();
  image->FillBuffer(0);
  const LabelImage::IndexType corner{ { 5, 0, 6 } };
  for (itk::ImageRegionIteratorWithIndex<LabelImage> it(image, LabelImage::RegionType(corner, { { 3, 3, 2 } }));
       !it.IsAtEnd();
       ++it)
  {
    it.Set(1);
  }
  focusnet::MeshOptions options;
  options.smoothingIterations = 0;
  const auto surface = focusnet::LabelSurface(focusnet::ToVTKImage(image.GetPointer()), 1, options);
  ASSERT_GT(surface->GetNumberOfPoints(), 0);
  // Every point is half a voxel or less, in index space, from the labelled block.
  for (vtkIdType i = 0; i < surface->GetNumberOfPoints(); ++i)
  {
    double p[3];
    surface->GetPoint(i, p);
    itk::ContinuousIndex<double, 3> index;
    image->TransformPhysicalPointToContinuousIndex(itk::Point<double, 3>(p), index);
    for (unsigned int d = 0; d < 3; ++d)
    {
      const double low = corner[d] - 0.5, high = corner[d] + (d == 2 ? 2 : 3) - 0.5;
      ASSERT_GE(index[d], low - 1e-6) << i;
      ASSERT_LE(index[d], high + 1e-6) << i;
    }
  }
  focusnet::testing::ExpectErrorContaining([&] { focusnet::LabelSurface(focusnet::ToVTKImage(image.GetPointer()), 2); },
                                           { "no voxel has the label 2" });
}

} // namespace
