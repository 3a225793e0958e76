/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/

// A DICOM series through ITK, FocusNet and VTK, as a downstream program would chain them:
//
//   DICOM series --(itk::ImageSeriesReader, GDCM)--> itk::Image<float, 3>
//                --(itk::FocusNetImageFilter)------> label map, same geometry
//                --(focusnet::ToVTKImage)----------> vtkImageData, same geometry
//                --(focusnet::LabelSurface)--------> vtkPolyData in LPS millimetres
//                --(focusnet::RenderSnapshot)------> PNG, rendered offscreen
//
// Usage: focusnetVTKPipelineExample DICOM_FOLDER MODEL_FILE OUTPUT.png

#include "focusnetMesh.h"
#include "focusnetModel.h"
#include "focusnetSnapshot.h"
#include "focusnetVTKImage.h"
#include "itkFocusNetImageFilter.h"
#include "itkGDCMImageIO.h"
#include "itkGDCMSeriesFileNames.h"
#include "itkImageSeriesReader.h"

#include <vtkMassProperties.h>
#include <vtkTriangleFilter.h>

#include <cstdlib>
#include <iostream>

int
main(int argc, char * argv[])
{
  if (argc != 4)
  {
    std::cerr << "usage: " << argv[0] << " DICOM_FOLDER MODEL_FILE OUTPUT.png\n";
    return EXIT_FAILURE;
  }
  try
  {
    using ImageType = itk::Image<float, 3>;

    // 1. The first series of the folder, in slice order, in Hounsfield units (GDCM applies the rescale).
    auto names = itk::GDCMSeriesFileNames::New();
    names->SetDirectory(argv[1]);
    const auto & series = names->GetSeriesUIDs();
    if (series.empty())
    {
      std::cerr << argv[1] << ": no DICOM series\n";
      return EXIT_FAILURE;
    }
    auto reader = itk::ImageSeriesReader<ImageType>::New();
    reader->SetImageIO(itk::GDCMImageIO::New());
    reader->SetFileNames(names->GetFileNames(series.front()));

    // 2. FocusNet slice by slice along the last axis; the label map keeps the series' geometry.
    auto model = std::make_shared<const focusnet::Model>(focusnet::Model::Load(argv[2]));
    auto segmentation = itk::FocusNetImageFilter<ImageType>::New();
    segmentation->SetInput(reader->GetOutput());
    segmentation->SetModel(model);
    segmentation->SetNumberOfTorchThreads(2);
    segmentation->Update();

    // 3. The label map as vtkImageData (origin, spacing and direction as in ITK) and the label's surface in LPS.
    const vtkSmartPointer<vtkImageData> labels = focusnet::ToVTKImage(segmentation->GetOutput());
    const focusnet::SegmentLabel &      label = model->Metadata().label;
    const vtkSmartPointer<vtkPolyData>  surface = focusnet::LabelSurface(labels, label.value);

    auto triangles = vtkSmartPointer<vtkTriangleFilter>::New();
    triangles->SetInputData(surface);
    auto volume = vtkSmartPointer<vtkMassProperties>::New();
    volume->SetInputConnection(triangles->GetOutputPort());
    volume->Update();

    // 4. The surface rendered offscreen over the series' middle slice (an Xvfb is started when there is no display).
    const vtkSmartPointer<vtkImageData> context = focusnet::ToVTKImage(reader->GetOutput());
    const focusnet::RenderingDisplay    display;
    focusnet::RenderSnapshot(surface, label, context, { -1350.0F, 150.0F } /* lung window */, 640, 480, argv[3]);

    std::cout << label.name << ": " << surface->GetNumberOfPolys() << " triangles enclosing "
              << volume->GetVolume() / 1000.0 << " mL; picture " << argv[3] << '\n';
  }
  catch (const std::exception & e)
  {
    std::cerr << argv[0] << ": " << e.what() << '\n';
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
