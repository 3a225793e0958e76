/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetSlicerSegmentation_h
#define focusnetSlicerSegmentation_h

#include "itkImage.h"

#include <cstdint>
#include <string>

namespace focusnet
{

struct ModelMetadata;

/** Writes a label map as a 3D Slicer segmentation (.seg.nrrd): a 3D NRRD of the label map with the input's geometry
 * and the custom fields Slicer's segmentation storage node reads (Segmentation_* and Segment0_*: ID, name, colour,
 * label value, layer, extent of the labelled voxels, and the model's DICOM terminology as a TerminologyEntry tag).
 * A 2D label map is written one slice thick, as Slicer requires 3 spatial dimensions. Atomic: on failure nothing is
 * left under fileName. Throws focusnet::Error naming the file. */
void
WriteSlicerSegmentation(const itk::Image<std::uint8_t, 3> * labels,
                        const ModelMetadata &               metadata,
                        const std::string &                 fileName);
void
WriteSlicerSegmentation(const itk::Image<std::uint8_t, 2> * labels,
                        const ModelMetadata &               metadata,
                        const std::string &                 fileName);

/** Whether a file name asks for a Slicer segmentation (it ends in .seg.nrrd, in any case). */
bool
IsSlicerSegmentationFileName(const std::string & fileName);

} // namespace focusnet

#endif
