/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef itkFocusNetImageFilter_hxx
#define itkFocusNetImageFilter_hxx

#include "itkFocusNetImageFilter.h"

#include "itkImageScanlineConstIterator.h"
#include "itkImageScanlineIterator.h"

#include <cmath>
#include <type_traits>
#include <vector>

namespace itk
{
namespace FocusNetDetail
{
template <typename TPixel>
constexpr unsigned int
ComponentCount()
{
  if constexpr (std::is_arithmetic_v<TPixel>)
  {
    return 1;
  }
  else
  {
    return TPixel::Length;
  }
}

/** Writes one pixel as `channels` floats: copied, replicated (gray -> RGB model) or as luminance (RGB -> gray). */
template <typename TPixel>
inline void
ToChannels(const TPixel & pixel, unsigned int channels, float * out)
{
  if constexpr (ComponentCount<TPixel>() == 1)
  {
    for (unsigned int c = 0; c < channels; ++c)
    {
      out[c] = static_cast<float>(pixel);
    }
  }
  else if (channels == 1)
  {
    // ITU-R BT.601 luma, as most tools convert RGB to gray.
    out[0] = 0.299F * static_cast<float>(pixel[0]) + 0.587F * static_cast<float>(pixel[1]) +
             0.114F * static_cast<float>(pixel[2]);
  }
  else
  {
    for (unsigned int c = 0; c < channels; ++c)
    {
      out[c] = static_cast<float>(pixel[c]);
    }
  }
}
/** Slice k (counted from the region's start) of a region along axis; axis == dimension: the whole region. */
template <typename TRegion>
TRegion
SliceRegion(const TRegion & region, unsigned int axis, int64_t k)
{
  TRegion slice = region;
  if (axis < TRegion::ImageDimension)
  {
    slice.SetIndex(axis, region.GetIndex(axis) + k);
    slice.SetSize(axis, 1);
  }
  return slice;
}

/** The in-plane axes of the slices across axis (x, then y), in ITK's order, so that a region iterator over a slice
 * walks it row by row; axis == dimension (a 2D image): 0 and 1. */
inline std::pair<unsigned int, unsigned int>
SliceAxes(unsigned int axis)
{
  const unsigned int rowAxis = axis == 0 ? 1 : 0;
  return { rowAxis, rowAxis + 1 == axis ? rowAxis + 2 : rowAxis + 1 };
}

/** Width and height of the slices across axis (SliceAxes). */
template <typename TRegion>
std::pair<int64_t, int64_t>
SliceShape(const TRegion & region, unsigned int axis)
{
  const auto [rowAxis, columnAxis] = SliceAxes(axis);
  return { static_cast<int64_t>(region.GetSize(rowAxis)), static_cast<int64_t>(region.GetSize(columnAxis)) };
}
} // namespace FocusNetDetail

template <typename TInputImage, typename TOutputImage>
FocusNetImageFilter<TInputImage, TOutputImage>::FocusNetImageFilter()
{
  this->SetNumberOfRequiredOutputs(2);
  this->SetNthOutput(1, this->MakeOutput(1));
}

template <typename TInputImage, typename TOutputImage>
DataObject::Pointer
FocusNetImageFilter<TInputImage, TOutputImage>::MakeOutput(DataObjectPointerArraySizeType idx)
{
  if (idx == 1)
  {
    return ProbabilityImageType::New().GetPointer();
  }
  return OutputImageType::New().GetPointer();
}

template <typename TInputImage, typename TOutputImage>
auto
FocusNetImageFilter<TInputImage, TOutputImage>::GetLabelOutput() -> OutputImageType *
{
  return this->GetOutput();
}

template <typename TInputImage, typename TOutputImage>
auto
FocusNetImageFilter<TInputImage, TOutputImage>::GetProbabilityOutput() -> ProbabilityImageType *
{
  return itkDynamicCastInDebugMode<ProbabilityImageType *>(this->ProcessObject::GetOutput(1));
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::SetModelFileName(const std::string & fileName)
{
  if (fileName == m_ModelFileName)
  {
    return;
  }
  m_ModelFileName = fileName;
  if (m_ModelFromFile)
  {
    m_Model.reset();
  }
  this->Modified();
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::SetModel(std::shared_ptr<const focusnet::Model> model)
{
  if (model == m_Model)
  {
    return;
  }
  m_Model = std::move(model);
  m_ModelFromFile = false;
  this->Modified();
}

template <typename TInputImage, typename TOutputImage>
std::shared_ptr<const focusnet::Model>
FocusNetImageFilter<TInputImage, TOutputImage>::GetModel()
{
  if (!m_Model && !m_ModelFileName.empty())
  {
    try
    {
      m_Model = std::make_shared<const focusnet::Model>(focusnet::Model::Load(m_ModelFileName));
      m_ModelFromFile = true;
    }
    catch (const std::exception & e)
    {
      itkExceptionMacro(<< e.what());
    }
  }
  return m_Model;
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::VerifyPreconditions() ITKv5_CONST
{
  Superclass::VerifyPreconditions();
  if (!m_Model && m_ModelFileName.empty())
  {
    itkExceptionMacro(<< "no model: set ModelFileName or Model");
  }
  if (m_SliceAxis >= ImageDimension)
  {
    itkExceptionMacro(<< "slice axis " << m_SliceAxis << " is not an axis of a " << ImageDimension << "D image");
  }
  try
  {
    focusnet::CheckInferenceOptions(m_InferenceOptions);
    focusnet::CheckThreshold(m_Threshold);
  }
  catch (const std::exception & e)
  {
    itkExceptionMacro(<< e.what());
  }
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::SetInferenceOptions(const focusnet::InferenceOptions & options)
{
  if (m_InferenceOptions != options)
  {
    m_InferenceOptions = options;
    this->Modified();
  }
}

template <typename TInputImage, typename TOutputImage>
auto
FocusNetImageFilter<TInputImage, TOutputImage>::WholeSlices(const RegionType & requested) const -> RegionType
{
  RegionType whole = this->GetOutput()->GetLargestPossibleRegion();
  if (ImageDimension == 3)
  {
    whole.SetIndex(m_SliceAxis, requested.GetIndex(m_SliceAxis));
    whole.SetSize(m_SliceAxis, requested.GetSize(m_SliceAxis));
  }
  return whole;
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::EnlargeOutputRequestedRegion(DataObject * output)
{
  Superclass::EnlargeOutputRequestedRegion(output);
  auto * image = dynamic_cast<ImageBase<ImageDimension> *>(output);
  if (image != nullptr)
  {
    // A clean-up that keeps the largest components needs them all: the whole volume at once.
    const auto model = this->GetModel();
    const bool wholeVolume = model && model->Metadata().cleanUp.keepComponents != 0;
    image->SetRequestedRegion(wholeVolume ? image->GetLargestPossibleRegion()
                                          : WholeSlices(image->GetRequestedRegion()));
  }
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::GenerateInputRequestedRegion()
{
  Superclass::GenerateInputRequestedRegion();
  if (auto * input = const_cast<InputImageType *>(this->GetInput()))
  {
    input->SetRequestedRegion(this->GetOutput()->GetRequestedRegion());
  }
}

template <typename TInputImage, typename TOutputImage>
const focusnet::InferenceEngine &
FocusNetImageFilter<TInputImage, TOutputImage>::Engine()
{
  const auto model = this->GetModel();
  if (!m_Engine || m_EngineModel != model || m_Engine->Options() != m_InferenceOptions)
  {
    m_Engine.reset(); // free the old network before building the new one
    m_Engine = std::make_unique<focusnet::InferenceEngine>(*model, m_InferenceOptions);
    m_EngineModel = model;
  }
  return *m_Engine;
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::GenerateData()
{
  m_SliceQuality.clear();
  m_LabelComponents = {};
  const InputImageType * input = this->GetInput();
  OutputImageType *      labels = this->GetOutput();
  const RegionType       region = labels->GetRequestedRegion();
  labels->SetBufferedRegion(region);
  labels->Allocate();
  ProbabilityImageType * probabilities = nullptr;
  if (m_GenerateProbabilityMap)
  {
    probabilities = this->GetProbabilityOutput();
    probabilities->SetBufferedRegion(region);
    probabilities->Allocate();
  }

  constexpr unsigned int inputComponents = FocusNetDetail::ComponentCount<InputPixelType>();
  try
  {
    const focusnet::InferenceEngine & engine = this->Engine();
    // LibTorch's thread count set once for all the batches, not set and given back each Predict call.
    const focusnet::InferenceEngine::ThreadCountScope threads(engine);
    const focusnet::ModelMetadata &                   metadata = engine.Metadata();
    const auto channels = static_cast<unsigned int>(metadata.architecture.inputChannels);
    if (inputComponents != channels && inputComponents != 1 && channels != 1)
    {
      itkExceptionMacro(<< "the model expects " << channels << " channel(s); the image has " << inputComponents);
    }
    const double threshold = std::isnan(m_Threshold) ? metadata.threshold : m_Threshold;
    const auto   labelValue = static_cast<OutputPixelType>(metadata.label.value);

    const unsigned int axis = ImageDimension == 3 ? m_SliceAxis : ImageDimension;
    const auto [width, height] = FocusNetDetail::SliceShape(region, axis);
    const int64_t sliceCount = ImageDimension == 3 ? static_cast<int64_t>(region.GetSize(axis)) : 1;
    const int64_t pixels = width * height;
    const auto [xAxis, yAxis] = FocusNetDetail::SliceAxes(axis);
    const std::array<double, 2> spacing{ input->GetSpacing()[xAxis], input->GetSpacing()[yAxis] };
    const double                brightAbove = metadata.quality.Median();
    this->GetMultiThreader()->SetNumberOfWorkUnits(this->GetNumberOfWorkUnits());

    // The engine asks for each batch of slices and hands back its probabilities, in order (on a GPU it computes one
    // batch while the next is filled here and the previous one written). Slices are filled and taken on the filter's
    // work units, one slice each: between two network batches every core is free.
    auto fill = [&](int64_t first, int64_t n, float * out)
    {
      this->GetMultiThreader()->ParallelizeArray(
        0,
        n,
        [&](SizeValueType s)
        {
          float * const slice = out + s * pixels * channels;
          float *       o = slice;
          for (ImageScanlineConstIterator<InputImageType> it(input,
                                                             FocusNetDetail::SliceRegion(region, axis, first + s));
               !it.IsAtEnd();
               it.NextLine())
          {
            for (; !it.IsAtEndOfLine(); ++it, o += channels)
            {
              FocusNetDetail::ToChannels(it.Get(), channels, o);
            }
          }
          m_SliceQuality[first + s].input =
            focusnet::MeasureInput(slice, height, width, channels, spacing, brightAbove);
        },
        nullptr);
    };
    auto take = [&](int64_t first, int64_t n, const float * predictions, const focusnet::FlipAgreement * agreement)
    {
      this->GetMultiThreader()->ParallelizeArray(
        0,
        n,
        [&](SizeValueType s)
        {
          const RegionType         slice = FocusNetDetail::SliceRegion(region, axis, first + s);
          const float *            p = predictions + s * pixels;
          focusnet::SliceQuality & quality = m_SliceQuality[first + s];
          const auto               input = quality.input; // measured as the slice was filled
          quality = focusnet::MeasureSlice(p, height, width, threshold);
          quality.input = input;
          if (agreement != nullptr)
          {
            quality.flipsMeasured = true;
            quality.flipLabelAny = static_cast<std::uint64_t>(agreement[s].labelledByAny);
            quality.flipLabelAll = static_cast<std::uint64_t>(agreement[s].labelledByAll);
          }
          for (ImageScanlineIterator<OutputImageType> it(labels, slice); !it.IsAtEnd(); it.NextLine())
          {
            for (; !it.IsAtEndOfLine(); ++it, ++p)
            {
              it.Set(*p >= threshold ? labelValue : OutputPixelType{});
            }
          }
          if (probabilities != nullptr)
          {
            p = predictions + s * pixels;
            for (ImageScanlineIterator<ProbabilityImageType> it(probabilities, slice); !it.IsAtEnd(); it.NextLine())
            {
              for (; !it.IsAtEndOfLine(); ++it, ++p)
              {
                it.Set(*p);
              }
            }
          }
        },
        nullptr);
      this->UpdateProgress(static_cast<float>(first + n) / static_cast<float>(sliceCount));
    };
    m_SliceQuality.assign(static_cast<std::size_t>(sliceCount), {});
    this->UpdateProgress(0.0F);
    engine.PredictStream(sliceCount, height, width, channels, fill, take, threshold);
    CleanUpLabels(metadata.cleanUp, axis, labelValue);
  }
  catch (const ExceptionObject &)
  {
    throw;
  }
  catch (const std::exception & e)
  {
    itkExceptionMacro(<< e.what());
  }
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::CleanUpLabels(const focusnet::CleanUp & recipe,
                                                              unsigned int              axis,
                                                              OutputPixelType           labelValue)
{
  OutputImageType *            labels = this->GetOutput();
  const auto                   size = labels->GetBufferedRegion().GetSize();
  const std::array<int64_t, 3> shape{ static_cast<int64_t>(size[0]),
                                      static_cast<int64_t>(size[1]),
                                      ImageDimension == 3 ? static_cast<int64_t>(size[ImageDimension - 1]) : 1 };
  const auto                   count = static_cast<std::size_t>(shape[0] * shape[1] * shape[2]);
  OutputPixelType *            buffer = labels->GetBufferPointer();
  // The components are those of the label the network gave; the clean-up works on bytes, in place when the labels
  // are bytes.
  std::vector<std::uint8_t> copy;
  std::uint8_t *            mask = nullptr;
  if constexpr (std::is_same_v<OutputPixelType, std::uint8_t>)
  {
    mask = buffer;
  }
  else
  {
    copy.resize(count);
    std::transform(
      buffer, buffer + count, copy.begin(), [](OutputPixelType v) { return std::uint8_t{ v != OutputPixelType{} }; });
    mask = copy.data();
  }
  m_LabelComponents = focusnet::CountComponents(mask, shape);
  if (!recipe.Enabled())
  {
    return;
  }
  focusnet::ApplyCleanUp(mask, shape, ImageDimension == 3 ? axis : 2, recipe, static_cast<std::uint8_t>(labelValue));
  if constexpr (!std::is_same_v<OutputPixelType, std::uint8_t>)
  {
    for (std::size_t i = 0; i < count; ++i)
    {
      buffer[i] = copy[i] != 0 ? labelValue : OutputPixelType{};
    }
  }
}

template <typename TInputImage, typename TOutputImage>
void
FocusNetImageFilter<TInputImage, TOutputImage>::PrintSelf(std::ostream & os, Indent indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "ModelFileName: " << m_ModelFileName << std::endl;
  os << indent << "Model: " << (m_Model ? m_Model->Metadata().architecture.name : std::string("(none)")) << std::endl;
  os << indent << "Device: " << m_InferenceOptions.device << std::endl;
  os << indent << "Precision: " << m_InferenceOptions.precision << std::endl;
  os << indent << "BatchSize: " << m_InferenceOptions.batchSize << std::endl;
  os << indent << "NumberOfTorchThreads: " << m_InferenceOptions.threads << std::endl;
  os << indent << "SliceAxis: " << m_SliceAxis << std::endl;
  os << indent << "Threshold: " << m_Threshold << std::endl;
  os << indent << "TestTimeAugmentation: " << (m_InferenceOptions.flipAugmentation ? "On" : "Off") << std::endl;
  os << indent << "GenerateProbabilityMap: " << (m_GenerateProbabilityMap ? "On" : "Off") << std::endl;
}

} // namespace itk

#endif
