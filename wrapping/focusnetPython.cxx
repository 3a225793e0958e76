/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The Python module `focusnet`: numpy arrays in and out. Thin: arguments are checked and turned into an ITK image,
// and FocusNet::Jobs does the work (focusnet::SegmentImage, the same call `focusnet segment` makes).

#include "focusnetError.h"
#include "focusnetImageIO.hxx"
#include "focusnetInferenceEngine.h"
#include "focusnetMetrics.h"
#include "focusnetModel.h"
#include "focusnetOptions.h"
#include "focusnetSegmentImage.hxx"
#include "focusnetSegmentation.h"
#include "focusnetVersion.h"
#include "itkRGBPixel.h"
#include "vnl/algo/vnl_determinant.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>


#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace py = pybind11;

namespace
{
namespace fs = std::filesystem;
using focusnet::Error;

[[noreturn]] void
Raise(PyObject * type, const std::string & message)
{
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

/** The library's words for what gets past an error, as a Python caller says it. */
std::string
KeywordFor(Error::Remedy remedy)
{
  switch (remedy)
  {
    case Error::Remedy::AllowOverwrite:
      return "; pass overwrite=True to replace it";
    case Error::Remedy::ChooseSeries:
      return "; choose one with series_uid=";
    case Error::Remedy::ChooseModel:
      return "; pass the path of a model file";
    case Error::Remedy::Resume:
    case Error::Remedy::None:
      break;
  }
  return {};
}

/** Where this module's installation keeps the default model (beside it in the build tree too). */
std::string
InstalledModel()
{
  const fs::path module = py::module_::import("focusnet").attr("__file__").cast<std::string>();
  return (module.parent_path() / FOCUSNET_PYTHON_TO_MODEL_DIR / FOCUSNET_DEFAULT_MODEL_NAME).lexically_normal();
}

/** A real-valued array's values as C-contiguous float32 (a copy only where the layout or type needs one). */
py::array_t<float, py::array::c_style | py::array::forcecast>
AsFloat(const py::array & array)
{
  const char kind = array.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'f' && kind != 'b')
  {
    Raise(PyExc_ValueError,
          "the image must hold real numbers, not dtype " + py::str(array.dtype()).cast<std::string>());
  }
  return py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
}

/** D finite numbers from a sequence of D, for spacing and origin. */
template <unsigned int D>
std::array<double, D>
Vector(const py::object & given, const char * name, double fallback)
{
  std::array<double, D> values;
  values.fill(fallback);
  if (given.is_none())
  {
    return values;
  }
  const auto list = given.cast<std::vector<double>>();
  if (list.size() != D)
  {
    Raise(PyExc_ValueError,
          std::string(name) + " needs " + std::to_string(D) + " values (x, y" + (D == 3 ? ", z" : "") + "), not " +
            std::to_string(list.size()));
  }
  for (unsigned int d = 0; d < D; ++d)
  {
    if (!std::isfinite(list[d]))
    {
      Raise(PyExc_ValueError, std::string(name) + " must be finite");
    }
    values[d] = list[d];
  }
  return values;
}

/** The image as ITK holds it: size, spacing, origin and direction in ITK's x, y, z order, pixels copied. */
template <typename TImage>
typename TImage::Pointer
ToItkImage(const py::array_t<float, py::array::c_style | py::array::forcecast> & values,
           const py::object &                                                    spacing,
           const py::object &                                                    origin,
           const py::object &                                                    direction)
{
  constexpr unsigned int    D = TImage::ImageDimension;
  typename TImage::SizeType size;
  for (unsigned int d = 0; d < D; ++d)
  {
    size[d] = static_cast<itk::SizeValueType>(values.shape(static_cast<py::ssize_t>(D - 1 - d)));
  }
  auto image = TImage::New();
  image->SetRegions(size);
  const auto s = Vector<D>(spacing, "spacing", 1.0);
  const auto o = Vector<D>(origin, "origin", 0.0);
  for (unsigned int d = 0; d < D; ++d)
  {
    if (!(s[d] > 0.0))
    {
      Raise(PyExc_ValueError, "spacing must be positive");
    }
  }
  image->SetSpacing(s.data());
  image->SetOrigin(o.data());
  if (!direction.is_none())
  {
    const auto rows = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(direction);
    if (!rows || rows.size() != static_cast<py::ssize_t>(D * D))
    {
      Raise(PyExc_ValueError, "direction needs " + std::to_string(D) + " x " + std::to_string(D) + " numbers");
    }
    typename TImage::DirectionType matrix;
    for (unsigned int r = 0; r < D; ++r)
    {
      for (unsigned int c = 0; c < D; ++c)
      {
        matrix(r, c) = rows.data()[r * D + c];
      }
    }
    const double determinant = vnl_determinant(matrix.GetVnlMatrix().as_ref());
    if (!std::isfinite(determinant) || std::abs(determinant) < 1e-6)
    {
      Raise(PyExc_ValueError, "direction must be an invertible matrix");
    }
    image->SetDirection(matrix);
  }
  image->Allocate();
  std::memcpy(static_cast<void *>(image->GetBufferPointer()), values.data(), sizeof(float) * values.size());
  return image;
}

/** Model.hold_threads(): a context manager that holds LibTorch's thread count at the model's while a loop of calls
 * runs (InferenceEngine::ThreadCountScope). */
struct PythonThreadCountHold
{
  int                                                          threads;
  std::unique_ptr<focusnet::InferenceEngine::ThreadCountScope> scope;
};

/** threshold= of segment() and segment_file(): None is the model file's; otherwise option::Threshold's range. */
double
ThresholdArgument(const py::object & threshold)
{
  if (threshold.is_none())
  {
    return focusnet::option::Threshold.fallback;
  }
  const double value = threshold.cast<double>();
  if (const std::string refusal = focusnet::OptionRefusal(focusnet::option::Threshold, value); !refusal.empty())
  {
    Raise(PyExc_ValueError, refusal);
  }
  return value;
}

/** axis= of segment() and segment_file(): numpy's axis of a 3D image, as ITK's (the reverse); None: -1, the last. */
int
SliceAxisArgument(const py::object & axis, bool twoDimensional)
{
  if (axis.is_none())
  {
    return -1;
  }
  if (twoDimensional)
  {
    Raise(PyExc_ValueError, "a 2D image is one slice: leave axis=None");
  }
  const int numpyAxis = axis.cast<int>();
  if (numpyAxis < 0 || numpyAxis > 2)
  {
    Raise(PyExc_ValueError, "axis must be 0, 1 or 2 (numpy's axes of a 3D image), not " + std::to_string(numpyAxis));
  }
  return 2 - numpyAxis;
}

/** An optional output file of segment_file(): None for none, else a str or os.PathLike (not a bool). */
std::string
FileNameArgument(const char * keyword, const py::object & value)
{
  if (value.is_none())
  {
    return {};
  }
  if (py::isinstance<py::bool_>(value))
  {
    Raise(PyExc_TypeError, std::string(keyword) + " names a file to write, not " + std::string(py::str(value)));
  }
  return py::str(py::module_::import("os").attr("fspath")(value));
}

struct PythonModel
{
  std::shared_ptr<const focusnet::Model> model;
  std::string                            path;
  focusnet::InferenceOptions             inference;
  std::string                            device; ///< what inference.device resolves to

  PythonModel(const py::object &  givenPath,
              const std::string & deviceName,
              int                 threads,
              int                 batchSize,
              const std::string & precision)
  {
    inference.threads = threads;
    inference.batchSize = batchSize;
    try
    {
      inference.device = deviceName;
      inference.precision = precision;
      focusnet::CheckInferenceOptions(inference); // before the model is read
      device = focusnet::ResolveDevice(deviceName);
    }
    catch (const Error & e)
    {
      Raise(PyExc_ValueError, e.what());
    }
    try
    {
      path =
        givenPath.is_none() ? focusnet::DefaultModelFile(InstalledModel()) : py::str(givenPath).cast<std::string>();
    }
    catch (const Error & e)
    {
      Raise(PyExc_FileNotFoundError, e.what() + KeywordFor(e.GetRemedy()));
    }
    std::error_code error;
    if (!fs::exists(path, error))
    {
      Raise(PyExc_FileNotFoundError, path + ": no such model file");
    }
    try
    {
      model = std::make_shared<const focusnet::Model>(focusnet::Model::Load(path));
    }
    catch (const Error & e)
    {
      Raise(PyExc_OSError, e.what());
    }
  }

  py::object
  Segment(const py::array &  array,
          const py::object & spacing,
          const py::object & origin,
          const py::object & direction,
          const py::object & axis,
          const py::object & threshold,
          bool               tta,
          bool               probabilities) const
  {
    const auto         ndim = static_cast<unsigned int>(array.ndim());
    const py::ssize_t  last = ndim > 0 ? array.shape(ndim - 1) : 0;
    const bool         color = ndim >= 3 && (last == 3 || last == 4);
    const unsigned int dimension = color ? ndim - 1 : ndim;
    if (dimension != 2 && dimension != 3)
    {
      Raise(PyExc_ValueError,
            "the image must be 2D (rows, cols) or 3D (slices, rows, cols), gray or with 3 RGB channels last; this "
            "array has " +
              std::to_string(ndim) + " dimensions");
    }
    if (color && last == 4)
    {
      Raise(PyExc_ValueError, "images with 4 channels (RGBA) are not supported: pass the 3 RGB channels");
    }
    for (unsigned int d = 0; d < ndim; ++d)
    {
      if (array.shape(d) < 1)
      {
        Raise(PyExc_ValueError, "the image is empty");
      }
    }

    focusnet::SegmentationOptions options;
    options.inference = inference;
    options.inference.flipAugmentation = tta;
    options.threshold = ThresholdArgument(threshold);
    options.sliceAxis = SliceAxisArgument(axis, dimension == 2);

    const auto values = AsFloat(array);
    if (color)
    {
      using RGB = itk::RGBPixel<float>;
      return dimension == 2 ? Run<itk::Image<RGB, 2>>(values, spacing, origin, direction, options, probabilities)
                            : Run<itk::Image<RGB, 3>>(values, spacing, origin, direction, options, probabilities);
    }
    return dimension == 2 ? Run<itk::Image<float, 2>>(values, spacing, origin, direction, options, probabilities)
                          : Run<itk::Image<float, 3>>(values, spacing, origin, direction, options, probabilities);
  }

  template <typename TImage>
  py::object
  Run(const py::array_t<float, py::array::c_style | py::array::forcecast> & values,
      const py::object &                                                    spacing,
      const py::object &                                                    origin,
      const py::object &                                                    direction,
      const focusnet::SegmentationOptions &                                 options,
      bool                                                                  probabilities) const
  {
    constexpr unsigned int                             D = TImage::ImageDimension;
    const auto                                         image = ToItkImage<TImage>(values, spacing, origin, direction);
    typename itk::FocusNetImageFilter<TImage>::Pointer filter;
    {
      py::gil_scoped_release unlocked;
      filter = focusnet::SegmentImage(image.GetPointer(), model, options, probabilities, "the array");
    }
    std::vector<py::ssize_t>  shape(values.shape(), values.shape() + D);
    py::array_t<std::uint8_t> labels(shape);
    std::memcpy(labels.mutable_data(), filter->GetOutput()->GetBufferPointer(), labels.size());
    if (!probabilities)
    {
      return std::move(labels);
    }
    py::array_t<float> p(shape);
    std::memcpy(p.mutable_data(), filter->GetProbabilityOutput()->GetBufferPointer(), sizeof(float) * p.size());
    return py::make_tuple(labels, p);
  }

  py::dict
  SegmentFile(const py::object &  inputPath,
              const py::object &  outputPath,
              const std::string & seriesUid,
              const py::object &  probabilities,
              const py::object &  overlay,
              const py::object &  dicomSeg,
              bool                keepEmptyFrames,
              bool                overwrite,
              bool                tta,
              const py::object &  threshold,
              const py::object &  axis) const
  {
    focusnet::SegmentationOptions options;
    options.inference = inference;
    options.inference.flipAugmentation = tta;
    options.threshold = ThresholdArgument(threshold);
    options.sliceAxis = SliceAxisArgument(axis, false);
    options.seriesUid = seriesUid;
    options.probabilityFileName = FileNameArgument("probabilities", probabilities);
    options.overlayFileName = FileNameArgument("overlay", overlay);
    options.dicomSegmentationFileName = FileNameArgument("dicom_seg", dicomSeg);
    options.dicomSegmentation.skipEmptyFrames = !keepEmptyFrames;
    options.overwrite = overwrite;
    const std::string input = py::str(inputPath);
    const std::string output = py::str(outputPath);
    std::error_code   error;
    if (!fs::exists(input, error))
    {
      Raise(PyExc_FileNotFoundError, input + ": no such file or directory");
    }
    options.dicomSegmentation.modelName = fs::path(path).filename().string();
    focusnet::SegmentationResult result;
    {
      py::gil_scoped_release unlocked;
      result = focusnet::SegmentImageFile(input, output, model, options);
    }
    py::dict summary;
    summary["slices"] = result.slices;
    summary["label_voxels"] = result.labelVoxels;
    summary["label_volume_mm3"] = result.labelVolumeMm3;
    py::dict quality;
    for (const auto & [name, value] : result.quality.Values())
    {
      quality[name.c_str()] = value;
    }
    summary["quality"] = quality;
    py::dict flags;
    for (const focusnet::QualityFlag & flag : result.flags)
    {
      flags[flag.name.c_str()] = flag.reason;
    }
    summary["flags"] = flags;
    return summary;
  }
};

/** An image read by FocusNet as (array, spacing, origin, direction): the array in numpy's (z, y, x[, channel])
 * order, the geometry in ITK's x, y, z order, as Model.segment takes them. */
template <typename TImage>
py::tuple
ReadAs(const focusnet::ImageSource & source)
{
  constexpr unsigned int   D = TImage::ImageDimension;
  constexpr unsigned int   channels = itk::FocusNetDetail::ComponentCount<typename TImage::PixelType>();
  typename TImage::Pointer image;
  {
    py::gil_scoped_release unlocked;
    image = focusnet::ReadImageSource<TImage>(source);
  }
  std::vector<py::ssize_t> shape;
  py::list                 spacing, origin, direction;
  for (unsigned int d = 0; d < D; ++d)
  {
    shape.insert(shape.begin(), static_cast<py::ssize_t>(image->GetLargestPossibleRegion().GetSize(d)));
    spacing.append(image->GetSpacing()[d]);
    origin.append(image->GetOrigin()[d]);
    py::list row;
    for (unsigned int c = 0; c < D; ++c)
    {
      row.append(image->GetDirection()(d, c));
    }
    direction.append(row);
  }
  if (channels > 1)
  {
    shape.push_back(channels);
  }
  py::array_t<float> array(shape);
  std::memcpy(array.mutable_data(), static_cast<const void *>(image->GetBufferPointer()), sizeof(float) * array.size());
  return py::make_tuple(array, py::tuple(spacing), py::tuple(origin), direction);
}

py::tuple
ReadImage(const py::object & path, const std::string & seriesUid)
{
  const std::string name = py::str(path);
  std::error_code   error;
  if (!fs::exists(name, error))
  {
    Raise(PyExc_FileNotFoundError, name + ": no such file or directory");
  }
  focusnet::ImageSource source;
  try
  {
    source = focusnet::InspectImageSource(name, seriesUid);
  }
  catch (const Error & e)
  {
    Raise(PyExc_OSError, e.what() + KeywordFor(e.GetRemedy()));
  }
  using RGB = itk::RGBPixel<float>;
  const bool color = source.components > 1;
  if (source.dimension == 2)
  {
    return color ? ReadAs<itk::Image<RGB, 2>>(source) : ReadAs<itk::Image<float, 2>>(source);
  }
  return color ? ReadAs<itk::Image<RGB, 3>>(source) : ReadAs<itk::Image<float, 3>>(source);
}

py::dict
Label(const focusnet::SegmentLabel & label)
{
  auto code = [](const focusnet::CodedConcept & c)
  { return py::dict(py::arg("value") = c.value, py::arg("scheme") = c.scheme, py::arg("meaning") = c.meaning); };
  return py::dict(py::arg("name") = label.name,
                  py::arg("value") = label.value,
                  py::arg("color") = py::make_tuple(label.color[0], label.color[1], label.color[2]),
                  py::arg("category") = code(label.category),
                  py::arg("type") = code(label.type));
}

py::dict
Evaluate(const py::array & labels, const py::array & reference)
{
  if (labels.ndim() != reference.ndim() ||
      !std::equal(labels.shape(), labels.shape() + labels.ndim(), reference.shape()))
  {
    Raise(PyExc_ValueError, "labels and reference must have the same shape");
  }
  using Mask = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
  const Mask a = Mask::ensure(labels.attr("__ne__")(0)); // non-zero is foreground, whatever the dtype
  const Mask b = Mask::ensure(reference.attr("__ne__")(0));
  const auto counts = focusnet::ConfusionCounts::Count(b.data(), a.data(), static_cast<std::size_t>(a.size()));
  return py::dict(py::arg("dice") = counts.Dice(),
                  py::arg("jaccard") = counts.Jaccard(),
                  py::arg("accuracy") = counts.Accuracy(),
                  py::arg("sensitivity") = counts.Sensitivity(),
                  py::arg("specificity") = counts.Specificity(),
                  py::arg("true_positives") = counts.truePositives,
                  py::arg("false_positives") = counts.falsePositives,
                  py::arg("true_negatives") = counts.trueNegatives,
                  py::arg("false_negatives") = counts.falseNegatives);
}

} // namespace

PYBIND11_MODULE(focusnet, m)
{
  m.doc() = "FocusNet segmentation (Kaul et al., ISBI 2019) for numpy arrays: the same network, model files and "
            "results as the focusnet command and itk::FocusNetImageFilter.";
  m.attr("__version__") = focusnet::Version;

  py::register_exception_translator(
    [](std::exception_ptr pointer)
    {
      try
      {
        if (pointer)
        {
          std::rethrow_exception(pointer);
        }
      }
      catch (const Error & e)
      {
        const std::string message = e.what() + KeywordFor(e.GetRemedy());
        PyErr_SetString(e.GetRemedy() == Error::Remedy::AllowOverwrite ? PyExc_FileExistsError : PyExc_RuntimeError,
                        message.c_str());
      }
    });

  py::class_<PythonModel>(m, "Model", "A FocusNet (or U-Net) model file, loaded once and run on arrays or files.")
    .def(py::init<const py::object &, const std::string &, int, int, const std::string &>(),
         py::arg("path") = py::none(),
         py::arg(focusnet::option::Device.keyword) =
           focusnet::InferenceOptions{}.device.Name(), // the library's defaults
         py::arg(focusnet::option::Threads.keyword) = focusnet::InferenceOptions{}.threads,
         py::arg(focusnet::option::BatchSize.keyword) = focusnet::InferenceOptions{}.batchSize,
         py::arg(focusnet::option::Precision.keyword) = std::string(focusnet::InferenceOptions{}.precision.Name()),
         "Loads a model file; path=None takes $FOCUSNET_MODEL, else the installed default model. device: 'auto' (a "
         "GPU when LibTorch sees one), 'cpu', 'cuda' or 'cuda:N'. threads: LibTorch threads (0: all cores). "
         "batch_size: slices per forward pass. precision: 'fp32'; 'bf16' on CPUs with AVX512-BF16 or AMX and on "
         "GPUs; 'fp16' on GPUs.")
    .def_property_readonly(
      "metadata",
      [](const PythonModel & self)
      { return py::module_::import("json").attr("loads")(focusnet::ToJson(self.model->Metadata())); },
      "The model file's metadata (architecture, input size, normalisation, threshold, label, provenance) as a dict.")
    .def_property_readonly(
      "label", [](const PythonModel & self) { return Label(self.model->Metadata().label); }, "The segmented structure.")
    .def_property_readonly(
      "parameter_count", [](const PythonModel & self) { return self.model->ParameterCount(); }, "Trainable weights.")
    .def_property_readonly(
      "device", [](const PythonModel & self) { return self.device; }, "The device it runs on, e.g. 'cpu'.")
    .def_property_readonly(
      "path", [](const PythonModel & self) { return self.path; }, "The model file.")
    .def("segment",
         &PythonModel::Segment,
         py::arg("array"),
         py::arg("spacing") = py::none(),
         py::arg("origin") = py::none(),
         py::arg("direction") = py::none(),
         py::arg("axis") = py::none(),
         py::arg("threshold") = py::none(),
         py::arg(focusnet::option::FlipAugmentation.keyword) = false,
         py::arg("probabilities") = false,
         "Segments a 2D (rows, cols) or 3D (slices, rows, cols) array, gray or with 3 RGB channels last, of any real "
         "dtype, slice by slice. Index order is ITK's numpy order (z, y, x); spacing, origin and direction are in "
         "ITK's x, y, z order. axis: the numpy axis slices are taken across (None: 0, ITK's last axis). threshold: "
         "None uses the model's. tta: average over the mirror images the model was trained on. Returns the uint8 "
         "label array of the image's shape, or (labels, float32 probabilities) with probabilities=True. The GIL is "
         "released while the network runs.")
    .def("segment_file",
         &PythonModel::SegmentFile,
         py::arg("input"),
         py::arg("output"),
         py::kw_only(),
         py::arg("series_uid") = "",
         py::arg("probabilities") = py::none(),
         py::arg("overlay") = py::none(),
         py::arg("dicom_seg") = py::none(),
         py::arg("keep_empty_frames") = false,
         py::arg("overwrite") = false,
         py::arg(focusnet::option::FlipAugmentation.keyword) = false,
         py::arg(focusnet::option::Threshold.keyword) = py::none(),
         py::arg("axis") = py::none(),
         "Segments an image file or DICOM series folder into a label map file (or a DICOM SEG for .dcm), as "
         "`focusnet segment` does. series_uid: the series of a DICOM folder. probabilities, overlay, dicom_seg: also "
         "write the probability map, a PNG of the middle slice with the outline, a DICOM SEG, to these files. "
         "keep_empty_frames: keep the SEG's frames without label. overwrite: replace existing outputs. tta, threshold, "
         "axis: as in segment(). Returns {'slices', 'label_voxels', 'label_volume_mm3', 'quality', 'flags'}: quality "
         "holds the signals of how far to trust the result by name, flags the reasons a reader must check it, by "
         "flag name (docs/quality-control.md).")
    .def(
      "hold_threads",
      [](const PythonModel & self) {
        return PythonThreadCountHold{ self.inference.threads, nullptr };
      },
      "A context manager for loops of calls: inside it LibTorch keeps this model's thread count, instead of each call "
      "setting it and giving the process's count back (which costs LibTorch 20-40 ms a call on a small machine, a "
      "quarter of a 2D slice's time); the process's count comes back at its end. "
      "`with model.hold_threads(): labels = [model.segment(a) for a in arrays]`");

  py::class_<PythonThreadCountHold>(m, "ThreadCountHold", "Model.hold_threads()'s context manager.")
    .def("__enter__",
         [](PythonThreadCountHold & self) -> PythonThreadCountHold &
         {
           if (self.scope)
           {
             Raise(PyExc_RuntimeError, "this hold_threads() is already entered; call model.hold_threads() again");
           }
           self.scope = std::make_unique<focusnet::InferenceEngine::ThreadCountScope>(self.threads);
           return self;
         })
    .def("__exit__",
         [](PythonThreadCountHold & self, const py::args &)
         {
           self.scope.reset();
           return false;
         });

  m.def("native_bf16",
        &focusnet::NativeBFloat16,
        "True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX), where Model(precision='bf16') runs.");

  m.def("read_image",
        &ReadImage,
        py::arg("path"),
        py::arg("series_uid") = "",
        "Reads an image file (TIFF, PNG, JPEG, NRRD, NIfTI, MetaImage, DICOM) or a DICOM series folder as FocusNet "
        "does (CT in Hounsfield units), into (array, spacing, origin, direction): a float32 array in numpy's (z, y, "
        "x[, channel]) order and the geometry in ITK's x, y, z order, ready for Model.segment(*read_image(path)).");

  m.def("evaluate",
        &Evaluate,
        py::arg("labels"),
        py::arg("reference"),
        "The paper's metrics of a label array against a reference of the same shape (non-zero is foreground): dice, "
        "jaccard, accuracy, sensitivity, specificity and the pixel counts, as a dict.");
}
