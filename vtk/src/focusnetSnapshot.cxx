/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetSnapshot.h"

#include "focusnetAtomicFile.h"
#include "focusnetDisplayWindow.h"
#include "focusnetError.h"
#include "focusnetImageIO.h"
#include "focusnetModelMetadata.h"
#include "focusnetVTKGeometry.h"
#include "focusnetVTKImage.h"

#include <vtkActor.h>
#include <vtkCamera.h>
#include <vtkImageActor.h>
#include <vtkImageMapper3D.h>
#include <vtkImageProperty.h>
#include <vtkPNGWriter.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkWindowToImageFilter.h>

#include <X11/Xlib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

namespace focusnet
{
namespace
{
bool
CanOpenDisplay(const std::string & name)
{
  Display * display = XOpenDisplay(name.c_str());
  if (display == nullptr)
  {
    return false;
  }
  XCloseDisplay(display);
  return true;
}

std::string
FindProgram(const std::string & name)
{
  const char * path = std::getenv("PATH");
  std::string  folders = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= folders.size();)
  {
    const std::size_t end = std::min(folders.find(':', start), folders.size());
    const std::string candidate = folders.substr(start, end - start) + "/" + name;
    if (end > start && access(candidate.c_str(), X_OK) == 0)
    {
      return candidate;
    }
    start = end + 1;
  }
  return {};
}

/** Column c of the image's direction matrix: where index axis c points in physical space. */
std::array<double, 3>
DirectionColumn(vtkImageData * image, int c)
{
  return { image->GetDirectionMatrix()->GetElement(0, c),
           image->GetDirectionMatrix()->GetElement(1, c),
           image->GetDirectionMatrix()->GetElement(2, c) };
}
} // namespace

RenderingDisplay::RenderingDisplay()
{
  const char * display = std::getenv("DISPLAY");
  m_HadDisplay = display != nullptr && *display != '\0';
  if (m_HadDisplay)
  {
    m_PreviousDisplay = display;
    if (CanOpenDisplay(m_PreviousDisplay))
    {
      return;
    }
  }
  const std::string why = m_HadDisplay ? "cannot open the X display '" + m_PreviousDisplay + "' ($DISPLAY)"
                                       : std::string("no X display ($DISPLAY is not set)");
  const std::string xvfb = FindProgram("Xvfb");
  if (xvfb.empty())
  {
    throw Error(why + " and Xvfb is not installed: VTK renders through an X server; install the Debian package xvfb "
                      "or run under xvfb-run");
  }
  int channel[2];
  if (pipe2(channel, O_CLOEXEC) != 0)
  {
    throw Error(why + " and cannot start Xvfb (no pipe)");
  }
  // Everything the child needs is made before fork: between fork and exec it calls async-signal-safe functions only.
  const std::string         fd = std::to_string(channel[1]);
  std::vector<const char *> argv{ "Xvfb",      "-displayfd", fd.c_str(), "-screen",  "0",    "1920x1080x24",
                                  "-nolisten", "tcp",        "-nolock",  "-noreset", nullptr };
  const pid_t               child = fork();
  if (child == 0)
  {
    fcntl(channel[1], F_SETFD, 0); // the display number is written here
    const int null = open("/dev/null", O_RDWR);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    setsid(); // not in the caller's process group: a terminal's Ctrl-C reaches the caller, who stops it
    execv(xvfb.c_str(), const_cast<char * const *>(argv.data()));
    _exit(127);
  }
  close(channel[1]);
  if (child < 0)
  {
    close(channel[0]);
    throw Error(why + " and cannot start Xvfb (fork failed)");
  }
  m_Server = child;
  // Xvfb writes the number of the display it took, then a newline, once it accepts connections.
  std::string number;
  const auto  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (number.empty() || number.back() != '\n')
  {
    const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd ready{ channel[0], POLLIN, 0 };
    char   c = 0;
    if (left <= 0 || poll(&ready, 1, static_cast<int>(left)) <= 0 || read(channel[0], &c, 1) != 1)
    {
      break;
    }
    number += c;
  }
  close(channel[0]);
  if (number.size() < 2 || number.back() != '\n')
  {
    Stop();
    throw Error(why + " and Xvfb (" + xvfb + ") did not start within 10 seconds");
  }
  number.pop_back();
  setenv("DISPLAY", (":" + number).c_str(), 1);
}

RenderingDisplay::~RenderingDisplay()
{
  Stop();
}

void
RenderingDisplay::Stop()
{
  if (m_Server <= 0)
  {
    return;
  }
  kill(m_Server, SIGTERM);
  int status = 0;
  for (int tries = 0; waitpid(m_Server, &status, WNOHANG) == 0; ++tries)
  {
    if (tries == 200) // 2 seconds
    {
      kill(m_Server, SIGKILL);
      waitpid(m_Server, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  m_Server = 0;
  if (m_HadDisplay)
  {
    setenv("DISPLAY", m_PreviousDisplay.c_str(), 1);
  }
  else
  {
    unsetenv("DISPLAY");
  }
}

void
RenderSnapshot(vtkPolyData *                surface,
               const SegmentLabel &         label,
               vtkImageData *               context,
               const std::array<float, 2> & window,
               int                          width,
               int                          height,
               const std::string &          fileName)
{
  auto renderer = vtkSmartPointer<vtkRenderer>::New();
  renderer->GradientBackgroundOn();
  renderer->SetBackground(0.05, 0.05, 0.07);
  renderer->SetBackground2(0.30, 0.32, 0.38);
  renderer->UseFXAAOn();

  auto mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
  mapper->SetInputData(surface);
  mapper->ScalarVisibilityOff();
  auto actor = vtkSmartPointer<vtkActor>::New();
  actor->SetMapper(mapper);
  actor->GetProperty()->SetColor(label.color[0] / 255.0, label.color[1] / 255.0, label.color[2] / 255.0);
  const bool contour = surface->GetNumberOfPolys() == 0;
  if (contour)
  {
    actor->GetProperty()->SetLineWidth(3.0F);
    actor->GetProperty()->LightingOff();
  }
  else
  {
    actor->GetProperty()->SetSpecular(0.3);
    actor->GetProperty()->SetSpecularPower(20.0);
  }
  renderer->AddActor(actor);

  if (context != nullptr)
  {
    const int * extent = context->GetExtent();
    const int   middle = (extent[4] + extent[5]) / 2;
    auto        slice = vtkSmartPointer<vtkImageActor>::New();
    slice->GetMapper()->SetInputData(IndexSpaceImage(context));
    slice->SetDisplayExtent(extent[0], extent[1], extent[2], extent[3], middle, middle);
    slice->SetUserMatrix(PhysicalMatrix(context, false));
    slice->GetProperty()->SetColorWindow(window[1] - window[0]);
    slice->GetProperty()->SetColorLevel(0.5 * (window[0] + window[1]));
    slice->GetProperty()->SetInterpolationTypeToLinear();
    slice->GetProperty()->SetOpacity(contour ? 1.0 : 0.6);
    renderer->AddViewProp(slice);
  }

  double bounds[6];
  surface->GetBounds(bounds);
  const double center[3] = { (bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2, (bounds[4] + bounds[5]) / 2 };
  vtkCamera *  camera = renderer->GetActiveCamera();
  camera->SetFocalPoint(center);
  if (contour)
  {
    // Along the slice normal, rows downward: the picture is laid out as the image file. A 2D image's normal is z.
    const std::array<double, 3> normal =
      context != nullptr ? DirectionColumn(context, 2) : std::array<double, 3>{ 0, 0, 1 };
    const std::array<double, 3> rows =
      context != nullptr ? DirectionColumn(context, 1) : std::array<double, 3>{ 0, 1, 0 };
    camera->SetPosition(center[0] - normal[0], center[1] - normal[1], center[2] - normal[2]);
    camera->SetViewUp(-rows[0], -rows[1], -rows[2]);
    // In front of the slice it outlines, so that the image does not hide it.
    actor->SetPosition(-0.01 * normal[0], -0.01 * normal[1], -0.01 * normal[2]);
  }
  else
  {
    camera->SetPosition(center[0], center[1] - 1.0, center[2]); // anterior (LPS: y points to the back)
    camera->SetViewUp(0.0, 0.0, 1.0);                           // superior
    camera->Azimuth(30.0);
    camera->Elevation(20.0);
    camera->OrthogonalizeViewUp();
  }
  renderer->ResetCamera(bounds);
  camera->Zoom(contour ? 1.1 : 1.3);
  renderer->ResetCameraClippingRange();

  auto renderWindow = vtkSmartPointer<vtkRenderWindow>::New();
  renderWindow->SetOffScreenRendering(1);
  renderWindow->SetMultiSamples(0);
  renderWindow->AddRenderer(renderer);
  renderWindow->SetSize(width, height);
  renderWindow->Render();

  auto capture = vtkSmartPointer<vtkWindowToImageFilter>::New();
  capture->SetInput(renderWindow);
  capture->SetInputBufferTypeToRGB();
  capture->ReadFrontBufferOff();
  capture->Update();
  WriteAtomically(fileName,
                  [&](const std::string & temporary)
                  {
                    auto writer = vtkSmartPointer<vtkPNGWriter>::New();
                    writer->SetInputConnection(capture->GetOutputPort());
                    writer->SetFileName(temporary.c_str());
                    writer->Write();
                    if (writer->GetErrorCode() != 0)
                    {
                      throw Error(fileName + ": cannot write the picture");
                    }
                  });
}

void
SnapshotLabelMapFile(const std::string &     labelMap,
                     const std::string &     output,
                     const SegmentLabel &    label,
                     const SnapshotOptions & options,
                     bool                    overwrite)
{
  CheckPictureFileName(output, "the snapshot");
  if (options.width < 16 || options.height < 16 || options.width > 8192 || options.height > 8192)
  {
    throw Error(output + ": a snapshot is 16 to 8192 pixels wide and high, not " + std::to_string(options.width) +
                " x " + std::to_string(options.height));
  }
  CheckOutputFile(output, overwrite, labelMap);
  const vtkSmartPointer<vtkPolyData> surface = LabelMapFileSurface(labelMap, label.value, options.mesh);
  vtkSmartPointer<vtkImageData>      context;
  std::array<float, 2>               window{ 0.0F, 1.0F };
  if (!options.image.empty())
  {
    context = ReadImageAsVTKImage(options.image);
    const int *   extent = context->GetExtent();
    const auto    sliceValues = static_cast<std::size_t>(extent[1] - extent[0] + 1) * (extent[3] - extent[2] + 1);
    const float * middle =
      static_cast<const float *>(context->GetScalarPointer(extent[0], extent[2], (extent[4] + extent[5]) / 2));
    window = DisplayWindow(middle, sliceValues);
  }
  const RenderingDisplay display;
  RenderSnapshot(surface, label, context, window, options.width, options.height, output);
}

} // namespace focusnet
