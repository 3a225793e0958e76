/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetMesh_h
#define focusnetMesh_h

#include <vtkImageData.h>
#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

#include <string>

namespace focusnet
{

struct SegmentLabel;

struct MeshOptions
{
  int  smoothingIterations{ 15 }; ///< windowed-sinc smoothing; 0: the voxel surface as extracted
  bool ras{ false };              ///< RAS coordinates (Slicer models) instead of LPS (ITK, DICOM)
};

/** The surface of the voxels labelled `label` in a label map (ToVTKImage), in physical coordinates with the
 * image's direction applied: discrete flying edges, windowed-sinc smoothing and outward normals for a volume; the
 * contour as polylines for a single slice. Throws focusnet::Error when no voxel has the label. */
vtkSmartPointer<vtkPolyData>
LabelSurface(vtkImageData * labels, int label, const MeshOptions & options = {});

/** LabelSurface of a label map file (any format FocusNet reads). Throws focusnet::Error naming the file, also when no
 * voxel has the label. */
vtkSmartPointer<vtkPolyData>
LabelMapFileSurface(const std::string & labelMap, int label, const MeshOptions & options = {});

/** Writes a mesh by its extension: .vtp, .vtk, .stl, .obj or .ply, atomically. The label's name and colour go where the
 * format has room: field data "Name" and "Color" (.vtp, .vtk), vertex colours (.ply). Throws focusnet::Error naming
 * the file, also for another extension. */
void
WriteMesh(vtkPolyData * mesh, const SegmentLabel & label, const std::string & fileName);

/** LabelSurface of label's value written with its name and colour (WriteMesh). Throws focusnet::Error naming the file,
 * also when no voxel has the label; nothing is written then. */
void
WriteLabelSurface(vtkImageData *       labels,
                  const SegmentLabel & label,
                  const MeshOptions &  options,
                  const std::string &  fileName);

struct MeshResult
{
  vtkIdType points{ 0 };
  vtkIdType cells{ 0 }; ///< triangles of a volume's surface, lines of a slice's contour
};

/** The mesh job of `focusnet mesh`: reads a label map file (any format FocusNet reads), makes the surface of label's
 * value and writes it with label's name and colour. The output name is checked and nothing is written when the label
 * map holds no such voxel. Throws focusnet::Error naming the file. */
MeshResult
MeshLabelMapFile(const std::string &  labelMap,
                 const std::string &  output,
                 const SegmentLabel & label,
                 const MeshOptions &  options,
                 bool                 overwrite);

/** Throws focusnet::Error unless fileName has one of the mesh extensions. */
void
CheckMeshFileName(const std::string & fileName);

} // namespace focusnet

#endif
