/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetVTKImage.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetImageIO.hxx"

#include <vtkAOSDataArrayTemplate.h>
#include <vtkCallbackCommand.h>
#include <vtkDataArray.h>
#include <vtkMatrix3x3.h>
#include <vtkPointData.h>
#include <vtkTypeTraits.h>
#include <vtkXMLImageDataWriter.h>

#include <algorithm>
#include <cstring>

namespace focusnet
{

template <typename TPixel, unsigned int VDimension>
vtkSmartPointer<vtkImageData>
ToVTKImage(const itk::Image<TPixel, VDimension> * image)
{
  const auto region = image->GetBufferedRegion();
  int        extent[6] = { 0, 0, 0, 0, 0, 0 };
  double     origin[3] = { 0.0, 0.0, 0.0 };
  double     spacing[3] = { 1.0, 1.0, 1.0 };
  auto       direction = vtkSmartPointer<vtkMatrix3x3>::New(); // the identity
  for (unsigned int d = 0; d < VDimension; ++d)
  {
    extent[2 * d] = static_cast<int>(region.GetIndex(d));
    extent[2 * d + 1] = static_cast<int>(region.GetIndex(d) + static_cast<itk::IndexValueType>(region.GetSize(d))) - 1;
    origin[d] = image->GetOrigin()[d];
    spacing[d] = image->GetSpacing()[d];
    for (unsigned int c = 0; c < VDimension; ++c)
    {
      direction->SetElement(static_cast<int>(d), static_cast<int>(c), image->GetDirection()(d, c));
    }
  }
  auto result = vtkSmartPointer<vtkImageData>::New();
  result->SetExtent(extent);
  result->SetOrigin(origin);
  result->SetSpacing(spacing);
  result->SetDirectionMatrix(direction);
  // ITK and VTK both store x fastest, then y, then z: the scalars are the ITK buffer itself. The array holds a
  // reference to the pixel container, which owns the buffer, so the pixels outlive the ITK image and survive its
  // pipeline giving it a new container.
  using ContainerType = typename itk::Image<TPixel, VDimension>::PixelContainer;
  auto * container = const_cast<ContainerType *>(image->GetPixelContainer());
  container->Register();
  auto scalars = vtkSmartPointer<vtkAOSDataArrayTemplate<TPixel>>::New();
  scalars->SetNumberOfComponents(1);
  scalars->SetArray(container->GetBufferPointer(), static_cast<vtkIdType>(region.GetNumberOfPixels()), 1 /* save */);
  auto release = vtkSmartPointer<vtkCallbackCommand>::New();
  release->SetClientData(container);
  release->SetCallback([](vtkObject *, unsigned long, void * client, void *)
                       { static_cast<ContainerType *>(client)->UnRegister(); });
  scalars->AddObserver(vtkCommand::DeleteEvent, release);
  scalars->SetName("ImageScalars"); // the name vtkImageData::AllocateScalars gives
  result->GetPointData()->SetScalars(scalars);
  return result;
}

template <typename TPixel, unsigned int VDimension>
typename itk::Image<TPixel, VDimension>::Pointer
ToITKImage(vtkImageData * image)
{
  using ImageType = itk::Image<TPixel, VDimension>;
  if (image->GetScalarType() != vtkTypeTraits<TPixel>::VTKTypeID() || image->GetNumberOfScalarComponents() != 1)
  {
    throw Error(std::string("the VTK image holds ") + image->GetScalarTypeAsString() + " x " +
                std::to_string(image->GetNumberOfScalarComponents()) + ", not one component of " +
                vtkImageScalarTypeNameMacro(vtkTypeTraits<TPixel>::VTKTypeID()));
  }
  const int * extent = image->GetExtent();
  if (VDimension == 2 && extent[4] != extent[5])
  {
    throw Error("the VTK image is a volume, not a 2D image");
  }
  typename ImageType::IndexType     index;
  typename ImageType::SizeType      size;
  typename ImageType::PointType     origin;
  typename ImageType::SpacingType   spacing;
  typename ImageType::DirectionType direction;
  for (unsigned int d = 0; d < VDimension; ++d)
  {
    index[d] = extent[2 * d];
    size[d] = static_cast<itk::SizeValueType>(extent[2 * d + 1] - extent[2 * d] + 1);
    origin[d] = image->GetOrigin()[d];
    spacing[d] = image->GetSpacing()[d];
    for (unsigned int c = 0; c < VDimension; ++c)
    {
      direction(d, c) = image->GetDirectionMatrix()->GetElement(static_cast<int>(d), static_cast<int>(c));
    }
  }
  auto result = ImageType::New();
  result->SetRegions(typename ImageType::RegionType(index, size));
  result->SetOrigin(origin);
  result->SetSpacing(spacing);
  result->SetDirection(direction);
  result->Allocate();
  std::memcpy(result->GetBufferPointer(),
              image->GetScalarPointer(),
              sizeof(TPixel) * result->GetBufferedRegion().GetNumberOfPixels());
  return result;
}

namespace
{
template <typename TPixel>
vtkSmartPointer<vtkImageData>
ReadAsVTKImage(const ImageSource & source)
{
  return source.dimension == 2 ? ToVTKImage(ReadImageSource<itk::Image<TPixel, 2>>(source).GetPointer())
                               : ToVTKImage(ReadImageSource<itk::Image<TPixel, 3>>(source).GetPointer());
}
} // namespace

vtkSmartPointer<vtkImageData>
ReadLabelMapAsVTKImage(const std::string & fileName)
{
  const ImageSource source = InspectImageSource(fileName);
  if (source.components != 1)
  {
    throw Error(fileName + ": a label map has one value per voxel, this image has " +
                std::to_string(source.components));
  }
  return ReadAsVTKImage<unsigned char>(source);
}

vtkSmartPointer<vtkImageData>
ReadImageAsVTKImage(const std::string & fileName)
{
  return ReadAsVTKImage<float>(InspectImageSource(fileName));
}

void
WriteVTKImage(vtkImageData * image, const std::string & fileName)
{
  WriteAtomically(fileName,
                  [&](const std::string & temporary)
                  {
                    auto writer = vtkSmartPointer<vtkXMLImageDataWriter>::New();
                    writer->SetInputData(image);
                    writer->SetFileName(temporary.c_str());
                    writer->SetCompressorTypeToZLib();
                    if (writer->Write() != 1)
                    {
                      throw Error(fileName + ": cannot write VTK image data");
                    }
                  });
}

#define FOCUSNET_VTK_IMAGE(TPixel, D)                                                                                  \
  template vtkSmartPointer<vtkImageData>  ToVTKImage<TPixel, D>(const itk::Image<TPixel, D> *);                        \
  template itk::Image<TPixel, D>::Pointer ToITKImage<TPixel, D>(vtkImageData *)
FOCUSNET_VTK_IMAGE(unsigned char, 2);
FOCUSNET_VTK_IMAGE(unsigned char, 3);
FOCUSNET_VTK_IMAGE(float, 2);
FOCUSNET_VTK_IMAGE(float, 3);

} // namespace focusnet
