/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef itkFocusNetImageFilter_h
#define itkFocusNetImageFilter_h

#include "itkImageToImageFilter.h"
#include "focusnetError.h"
#include "focusnetInferenceEngine.h"
#include "focusnetModel.h"
#include "focusnetOptions.h"
#include "focusnetQuality.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace itk
{

/** \class FocusNetImageFilter
 * \brief Segments an image slice by slice with a FocusNet (or U-Net) model file.
 *
 * Each 2D slice along SliceAxis (the whole image for 2D inputs) is normalised as the model says,
 * resized to the network input size, run in batches by LibTorch on the chosen device, and its
 * probability map resized back to the slice size and thresholded. Output 0 is the label map
 * (0 and the model's label value) and output 1, when GenerateProbabilityMap is on, the probabilities;
 * both have exactly the input's origin, spacing, direction and size.
 *
 * Scalar inputs of any type and RGB inputs are accepted. A single-channel model given an RGB image
 * sees its luminance; a three-channel model given a scalar image sees it replicated.
 *
 * The filter needs whole slices: it enlarges the requested region to full slices and keeps the
 * requested range along SliceAxis, so a StreamingImageFilter over slices gives the same result as one
 * Update() while holding only the slices of one stream in memory. A model whose clean-up keeps the largest
 * components (focusnet::CleanUp) needs the whole volume, and gets it at every request.
 *
 * \ingroup FocusNet
 */
template <typename TInputImage, typename TOutputImage = Image<unsigned char, TInputImage::ImageDimension>>
class ITK_TEMPLATE_EXPORT FocusNetImageFilter : public ImageToImageFilter<TInputImage, TOutputImage>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(FocusNetImageFilter);

  using Self = FocusNetImageFilter;
  using Superclass = ImageToImageFilter<TInputImage, TOutputImage>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  static constexpr unsigned int ImageDimension = TInputImage::ImageDimension;
  static_assert(ImageDimension == 2 || ImageDimension == 3, "FocusNetImageFilter handles 2D and 3D images");

  using InputImageType = TInputImage;
  using OutputImageType = TOutputImage;
  using InputPixelType = typename InputImageType::PixelType;
  using OutputPixelType = typename OutputImageType::PixelType;
  using RegionType = typename OutputImageType::RegionType;
  using ProbabilityImageType = Image<float, ImageDimension>;

  itkNewMacro(Self);
  itkTypeMacro(FocusNetImageFilter, ImageToImageFilter);

  /** The model file to load (read once, when the filter first runs after the name changes). */
  void
  SetModelFileName(const std::string & fileName);
  itkGetStringMacro(ModelFileName);

  /** A model already in memory, shared with other filters; takes precedence over ModelFileName. */
  void
  SetModel(std::shared_ptr<const focusnet::Model> model);
  /** The model in use; loads ModelFileName if needed. */
  std::shared_ptr<const focusnet::Model>
  GetModel();

  /** The inference settings as one value (device, LibTorch threads, batch size, flip augmentation, precision;
   * focusnet::InferenceOptions). The accessors below read and write its fields; the values are checked when the
   * filter runs (focusnet::CheckInferenceOptions), and the network is rebuilt when any field differs from the last
   * run's. */
  void
  SetInferenceOptions(const focusnet::InferenceOptions & options);
  itkGetConstReferenceMacro(InferenceOptions, focusnet::InferenceOptions);

  /** The engine of the last run (null before the first): its Options() and DeviceName() say what ran. */
  const focusnet::InferenceEngine *
  GetInferenceEngine() const
  {
    return m_Engine.get();
  }

  /** "auto" (a GPU when LibTorch sees one), "cpu", "cuda" or "cuda:N" (focusnet::Device); any other name is refused
   * here, with an itk::ExceptionObject in the library's words, and the filter keeps its device. */
  void
  SetDevice(const std::string & device)
  {
    this->SetInferenceField(&focusnet::InferenceOptions::device, AsOption<focusnet::Device>(device));
  }
  const char *
  GetDevice() const
  {
    return m_InferenceOptions.device.Name().c_str();
  }

  /** "fp32" (the default); "bf16": the network in bfloat16, for CPUs with AVX512-BF16 or AMX
   * (focusnet::NativeBFloat16) and GPUs; "fp16": in float16, for GPUs (focusnet::Precision). Refused here like the
   * device. */
  void
  SetPrecision(const std::string & precision)
  {
    this->SetInferenceField(&focusnet::InferenceOptions::precision, AsOption<focusnet::Precision>(precision));
  }
  const char *
  GetPrecision() const
  {
    return m_InferenceOptions.precision.Name();
  }

  /** Slices per forward pass (focusnet::option::BatchSize). */
  void
  SetBatchSize(unsigned int batchSize)
  {
    this->SetInferenceField(&focusnet::InferenceOptions::batchSize, AsInt(batchSize));
  }
  unsigned int
  GetBatchSize() const
  {
    return static_cast<unsigned int>(m_InferenceOptions.batchSize);
  }

  /** LibTorch threads; 0 uses every hardware thread (focusnet::option::Threads). */
  void
  SetNumberOfTorchThreads(unsigned int threads)
  {
    this->SetInferenceField(&focusnet::InferenceOptions::threads, AsInt(threads));
  }
  unsigned int
  GetNumberOfTorchThreads() const
  {
    return static_cast<unsigned int>(m_InferenceOptions.threads);
  }

  /** Average the predictions of the slice and of its mirror images (left-right, up-down: those the model was
   * trained on, focusnet::TrainedFlips). */
  void
  SetTestTimeAugmentation(bool tta)
  {
    this->SetInferenceField(&focusnet::InferenceOptions::flipAugmentation, tta);
  }
  bool
  GetTestTimeAugmentation() const
  {
    return m_InferenceOptions.flipAugmentation;
  }
  itkBooleanMacro(TestTimeAugmentation);

  /** The axis slices are taken across (3D only); defaults to the last. */
  itkSetMacro(SliceAxis, unsigned int);
  itkGetConstMacro(SliceAxis, unsigned int);

  /** Probability threshold, strictly between 0 and 1 (focusnet::option::Threshold); NaN (the default) uses the model
   * file's. */
  itkSetMacro(Threshold, double);
  itkGetConstMacro(Threshold, double);

  /** Fill output 1 with the probability map. */
  itkSetMacro(GenerateProbabilityMap, bool);
  itkGetConstMacro(GenerateProbabilityMap, bool);
  itkBooleanMacro(GenerateProbabilityMap);

  OutputImageType *
  GetLabelOutput();
  ProbabilityImageType *
  GetProbabilityOutput();

  /** How far to trust each slice of the last Update's label map, in slice order (one for a 2D image): the signals
   * focusnet::MeasureSlice takes from the probabilities and focusnet::MeasureIntensity from the input, whether or not
   * the probability map is kept. They cover the slices of the last requested region: all of them, unless a streaming
   * filter downstream asked for the image a part at a time. */
  const std::vector<focusnet::SliceQuality> &
  GetSliceQuality() const
  {
    return m_SliceQuality;
  }

  /** The face-connected components (6-connected in a volume) of the label the network gave in the last Update,
   * before the model's clean-up (focusnet::ModelMetadata::cleanUp), which the label output has had. */
  const focusnet::Components &
  GetLabelComponents() const
  {
    return m_LabelComponents;
  }

protected:
  FocusNetImageFilter();
  ~FocusNetImageFilter() override = default;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

  void
  VerifyPreconditions() ITKv5_CONST override;
  void
  EnlargeOutputRequestedRegion(DataObject * output) override;
  void
  GenerateInputRequestedRegion() override;
  void
  GenerateData() override;

  using DataObjectPointerArraySizeType = typename Superclass::DataObjectPointerArraySizeType;
  using Superclass::MakeOutput;
  DataObject::Pointer
  MakeOutput(DataObjectPointerArraySizeType idx) override;

private:
  /** The requested region grown to whole slices. */
  RegionType
  WholeSlices(const RegionType & requested) const;
  const focusnet::InferenceEngine &
  Engine();
  /** An unsigned setting as the options' int, saturated (a huge value stays huge, and out of range, not negative). */
  static int
  AsInt(unsigned int value)
  {
    return static_cast<int>(std::min<unsigned int>(value, NumericTraits<int>::max()));
  }
  /** A device or precision from its name, or an itk::ExceptionObject in the library's words. */
  template <typename TOption>
  TOption
  AsOption(const std::string & name) const
  {
    try
    {
      return TOption(name);
    }
    catch (const std::exception & e)
    {
      itkExceptionMacro(<< e.what());
    }
  }
  /** Counts the label output's components and cleans it by recipe; axis: the slice axis (ImageDimension for 2D). */
  void
  CleanUpLabels(const focusnet::CleanUp & recipe, unsigned int axis, OutputPixelType labelValue);
  template <typename T>
  void
  SetInferenceField(T focusnet::InferenceOptions::*field, const T & value)
  {
    if (!(m_InferenceOptions.*field == value))
    {
      m_InferenceOptions.*field = value;
      this->Modified();
    }
  }

  std::string                                m_ModelFileName;
  std::shared_ptr<const focusnet::Model>     m_Model;
  bool                                       m_ModelFromFile{ false };
  focusnet::InferenceOptions                 m_InferenceOptions;
  unsigned int                               m_SliceAxis{ ImageDimension - 1 };
  double                                     m_Threshold{ focusnet::option::Threshold.fallback };
  bool                                       m_GenerateProbabilityMap{ false };
  std::vector<focusnet::SliceQuality>        m_SliceQuality;
  focusnet::Components                       m_LabelComponents;
  std::unique_ptr<focusnet::InferenceEngine> m_Engine;
  /** The model m_Engine was built from, held so that no other model can take its address while the engine lives. */
  std::shared_ptr<const focusnet::Model> m_EngineModel;
};

} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkFocusNetImageFilter.hxx"
#endif

#endif
