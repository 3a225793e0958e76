/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetMesh.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetImageIO.h"
#include "focusnetModelMetadata.h"
#include "focusnetVTKGeometry.h"
#include "focusnetVTKImage.h"

#include <vtkDiscreteFlyingEdges2D.h>
#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkDoubleArray.h>
#include <vtkFieldData.h>
#include <vtkImageConstantPad.h>
#include <vtkOBJWriter.h>
#include <vtkPLYWriter.h>
#include <vtkPointData.h>
#include <vtkPolyDataNormals.h>
#include <vtkPolyDataWriter.h>
#include <vtkSTLWriter.h>
#include <vtkStringArray.h>
#include <vtkTransform.h>
#include <vtkTransformPolyDataFilter.h>
#include <vtkUnsignedCharArray.h>
#include <vtkWindowedSincPolyDataFilter.h>
#include <vtkXMLPolyDataWriter.h>

#include <algorithm>
#include <array>

namespace focusnet
{
void
CheckMeshFileName(const std::string & fileName)
{
  const std::string                        extension = FormatExtension(fileName);
  static const std::array<const char *, 5> supported{ ".vtp", ".vtk", ".stl", ".obj", ".ply" };
  if (std::find(supported.begin(), supported.end(), extension) == supported.end())
  {
    throw Error(fileName + ": cannot write a mesh as '" + extension + "' (use .vtp, .vtk, .stl, .obj or .ply)");
  }
}

vtkSmartPointer<vtkPolyData>
LabelSurface(vtkImageData * labels, int label, const MeshOptions & options)
{
  const int * extent = labels->GetExtent();
  const bool  slice = extent[4] == extent[5];
  // One voxel of background around the image: a structure cut by the image's border gets a closed surface there,
  // at the border voxels' outer faces, instead of an open one.
  auto padding = vtkSmartPointer<vtkImageConstantPad>::New();
  padding->SetInputData(IndexSpaceImage(labels));
  padding->SetConstant(0.0);
  padding->SetOutputWholeExtent(extent[0] - 1,
                                extent[1] + 1,
                                extent[2] - 1,
                                extent[3] + 1,
                                extent[4] - (slice ? 0 : 1),
                                extent[5] + (slice ? 0 : 1));
  padding->Update();
  vtkImageData * indexSpace = padding->GetOutput();

  vtkSmartPointer<vtkPolyData> surface;
  if (slice)
  {
    auto contour = vtkSmartPointer<vtkDiscreteFlyingEdges2D>::New();
    contour->SetInputData(indexSpace);
    contour->SetValue(0, label);
    contour->Update();
    surface = contour->GetOutput();
  }
  else
  {
    auto extraction = vtkSmartPointer<vtkDiscreteFlyingEdges3D>::New();
    extraction->SetInputData(indexSpace);
    extraction->SetValue(0, label);
    extraction->ComputeNormalsOff();
    extraction->ComputeGradientsOff();
    extraction->ComputeScalarsOff();
    extraction->Update();
    surface = extraction->GetOutput();
  }
  if (surface->GetNumberOfPoints() == 0)
  {
    throw Error("no voxel has the label " + std::to_string(label) + ": there is no surface to make");
  }
  if (!slice && options.smoothingIterations > 0)
  {
    auto smoothing = vtkSmartPointer<vtkWindowedSincPolyDataFilter>::New();
    smoothing->SetInputData(surface);
    smoothing->SetNumberOfIterations(options.smoothingIterations);
    smoothing->SetPassBand(0.1);
    smoothing->BoundarySmoothingOff();
    smoothing->FeatureEdgeSmoothingOff();
    smoothing->NonManifoldSmoothingOn();
    smoothing->NormalizeCoordinatesOn();
    smoothing->Update();
    surface = smoothing->GetOutput();
  }
  auto transform = vtkSmartPointer<vtkTransformPolyDataFilter>::New();
  transform->SetInputData(surface);
  auto physical = vtkSmartPointer<vtkTransform>::New();
  physical->SetMatrix(PhysicalMatrix(labels, options.ras));
  transform->SetTransform(physical);
  transform->Update();
  if (slice)
  {
    return transform->GetOutput();
  }
  // Normals after the transform: a direction with a negative determinant turns the triangles inside out.
  auto normals = vtkSmartPointer<vtkPolyDataNormals>::New();
  normals->SetInputConnection(transform->GetOutputPort());
  normals->ConsistencyOn();
  normals->AutoOrientNormalsOn();
  normals->SplittingOff();
  normals->Update();
  return normals->GetOutput();
}

void
WriteMesh(vtkPolyData * mesh, const SegmentLabel & label, const std::string & fileName)
{
  CheckMeshFileName(fileName);
  const std::string extension = FormatExtension(fileName);
  auto              named = vtkSmartPointer<vtkPolyData>::New();
  named->ShallowCopy(mesh);
  auto name = vtkSmartPointer<vtkStringArray>::New();
  name->SetName("Name");
  name->InsertNextValue(label.name);
  auto color = vtkSmartPointer<vtkDoubleArray>::New();
  color->SetName("Color");
  color->SetNumberOfComponents(3);
  color->InsertNextTuple3(label.color[0] / 255.0, label.color[1] / 255.0, label.color[2] / 255.0);
  named->GetFieldData()->AddArray(name);
  named->GetFieldData()->AddArray(color);

  WriteAtomically(fileName,
                  [&](const std::string & temporary)
                  {
                    int written = 0;
                    if (extension == ".vtp")
                    {
                      auto writer = vtkSmartPointer<vtkXMLPolyDataWriter>::New();
                      writer->SetInputData(named);
                      writer->SetFileName(temporary.c_str());
                      writer->SetCompressorTypeToZLib();
                      written = writer->Write();
                    }
                    else if (extension == ".vtk")
                    {
                      auto writer = vtkSmartPointer<vtkPolyDataWriter>::New();
                      writer->SetInputData(named);
                      writer->SetFileName(temporary.c_str());
                      writer->SetFileTypeToBinary();
                      written = writer->Write();
                    }
                    else if (extension == ".stl")
                    {
                      auto writer = vtkSmartPointer<vtkSTLWriter>::New();
                      writer->SetInputData(named);
                      writer->SetFileName(temporary.c_str());
                      writer->SetFileTypeToBinary();
                      writer->SetHeader(("FocusNet " + label.name).c_str());
                      written = writer->Write();
                    }
                    else if (extension == ".obj")
                    {
                      auto writer = vtkSmartPointer<vtkOBJWriter>::New();
                      writer->SetInputData(named);
                      writer->SetFileName(temporary.c_str());
                      written = writer->Write();
                    }
                    else
                    {
                      auto writer = vtkSmartPointer<vtkPLYWriter>::New();
                      writer->SetInputData(named);
                      writer->SetFileName(temporary.c_str());
                      writer->SetFileTypeToBinary();
                      writer->SetColorModeToUniformPointColor();
                      writer->SetColor(label.color[0], label.color[1], label.color[2]);
                      written = writer->Write();
                    }
                    if (written != 1)
                    {
                      throw Error(fileName + ": cannot write the mesh");
                    }
                  });
}

namespace
{
/** LabelSurface, its error naming the file it is about. */
vtkSmartPointer<vtkPolyData>
SurfaceFor(const std::string & fileName, vtkImageData * labels, int label, const MeshOptions & options)
{
  try
  {
    return LabelSurface(labels, label, options);
  }
  catch (const Error & e)
  {
    throw Error(fileName + ": " + e.what());
  }
}
} // namespace

void
WriteLabelSurface(vtkImageData *       labels,
                  const SegmentLabel & label,
                  const MeshOptions &  options,
                  const std::string &  fileName)
{
  CheckMeshFileName(fileName);
  WriteMesh(SurfaceFor(fileName, labels, label.value, options), label, fileName);
}

vtkSmartPointer<vtkPolyData>
LabelMapFileSurface(const std::string & labelMap, int label, const MeshOptions & options)
{
  return SurfaceFor(labelMap, ReadLabelMapAsVTKImage(labelMap), label, options);
}

MeshResult
MeshLabelMapFile(const std::string &  labelMap,
                 const std::string &  output,
                 const SegmentLabel & label,
                 const MeshOptions &  options,
                 bool                 overwrite)
{
  CheckMeshFileName(output);
  CheckOutputFile(output, overwrite, labelMap);
  const vtkSmartPointer<vtkPolyData> mesh = LabelMapFileSurface(labelMap, label.value, options);
  WriteMesh(mesh, label, output);
  return { mesh->GetNumberOfPoints(), mesh->GetNumberOfCells() };
}

} // namespace focusnet
