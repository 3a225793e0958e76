/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetSnapshot_h
#define focusnetSnapshot_h

#include "focusnetMesh.h"

#include <vtkImageData.h>
#include <vtkPolyData.h>

#include <array>
#include <string>

namespace focusnet
{

struct SegmentLabel;

struct SnapshotOptions
{
  int         width{ 800 };
  int         height{ 800 };
  std::string image; ///< an image file shown for context: its middle slice behind the structure; empty: none
  MeshOptions mesh;  ///< smoothing of the rendered surface (ras is ignored: the picture is the same)
};

/** Where VTK renders: Debian's VTK draws through an X server, also offscreen. While one exists, $DISPLAY names a
 * reachable server: the caller's, or an Xvfb started here (`Xvfb -displayfd`, stopped by the destructor) when
 * $DISPLAY is unset or unreachable. Throws focusnet::Error in one line saying how to get one when there is neither a
 * display nor Xvfb, or Xvfb does not start within 10 seconds. */
class RenderingDisplay
{
public:
  RenderingDisplay();
  ~RenderingDisplay();
  RenderingDisplay(const RenderingDisplay &) = delete;
  RenderingDisplay &
  operator=(const RenderingDisplay &) = delete;

  /** True when this object started the X server it renders on. */
  bool
  StartedXvfb() const
  {
    return m_Server > 0;
  }

private:
  void
  Stop();

  int         m_Server{ 0 }; ///< the Xvfb process started here, 0 for none
  std::string m_PreviousDisplay;
  bool        m_HadDisplay{ false };
};

/** Renders surfaces offscreen to a PNG of width x height: the surface in the label's colour seen from the front
 * (anterior, LPS), turned 30 degrees and raised 20, the camera framing the surface; a one-slice label map's contour
 * seen along the slice normal, rows downward as in the image file. context (optional, float) adds its middle slice
 * along its last axis, gray in window {low, high}, half translucent. Needs a RenderingDisplay. Atomic; throws
 * focusnet::Error naming the file. */
void
RenderSnapshot(vtkPolyData *                surface,
               const SegmentLabel &         label,
               vtkImageData *               context,
               const std::array<float, 2> & window,
               int                          width,
               int                          height,
               const std::string &          fileName);

/** `focusnet snapshot`: reads a label map (and options.image), makes the surface of label's value (LabelSurface),
 * starts a RenderingDisplay and writes the picture. The output name is checked first; nothing is written on failure.
 * Throws focusnet::Error naming the file. */
void
SnapshotLabelMapFile(const std::string &     labelMap,
                     const std::string &     output,
                     const SegmentLabel &    label,
                     const SnapshotOptions & options,
                     bool                    overwrite);

} // namespace focusnet

#endif
