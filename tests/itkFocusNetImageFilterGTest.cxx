/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// itk::FocusNetImageFilter: geometry, slicing along every axis, pixel types, streaming, progress, errors.

#include "itkFocusNetImageFilter.h"

#include "focusnetTestUtilities.h"
#include "itkCommand.h"
#include "itkExtractImageFilter.h"
#include "itkImageRegionConstIterator.h"
#include "itkImageRegionIterator.h"
#include "itkRGBPixel.h"
#include "itkStreamingImageFilter.h"
#include "itkVector.h"

#include <array>
#include <cmath>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace
{
/** Stands for any field's value in a brace initialisation (only ever named in unevaluated contexts). */
struct AnyField
{
  template <typename T>
  operator T() const;
};

/** Whether T{ TFields... } compiles. */
template <typename T, typename... TFields>
constexpr auto
BraceInitializable(int) -> decltype(void(T{ std::declval<TFields>()... }), true)
{
  return true;
}
template <typename T, typename... TFields>
constexpr bool
BraceInitializable(long)
{
  return false;
}

/** The number of fields of an aggregate: the most initialisers its braces take. */
template <typename T, typename... TFields>
constexpr std::size_t
FieldCount()
{
  if constexpr (BraceInitializable<T, TFields..., AnyField>(0))
  {
    return FieldCount<T, TFields..., AnyField>();
  }
  else
  {
    return sizeof...(TFields);
  }
}

/** Every field of options as text, by its option's keyword. */
std::vector<std::string>
Fields(const focusnet::InferenceOptions & options)
{
  std::vector<std::string> fields;
  for (const char * keyword : focusnet::InferenceOptionKeywords)
  {
    fields.push_back(keyword + (" = " + focusnet::GetInferenceOption(options, keyword)));
  }
  return fields;
}

/** The values other than the current one that option keyword's description offers: a step either side (within its
 * range), the other entries of its menu, the other state of a flag. */
std::vector<std::string>
OtherValues(const std::string & keyword, const focusnet::InferenceOptions & options)
{
  const std::string        current = focusnet::GetInferenceOption(options, keyword);
  std::vector<std::string> values;
  for (const focusnet::NumericOption * numeric : focusnet::option::Numeric)
  {
    const double number = keyword == numeric->keyword ? std::stod(current) : std::nan("");
    for (const double value : { number - numeric->step, number + numeric->step })
    {
      if (focusnet::OptionRefusal(*numeric, value).empty()) // (false for NaN)
      {
        values.push_back(focusnet::ShortestNumber(value));
      }
    }
  }
  for (const focusnet::WordOption * word : focusnet::option::Words)
  {
    for (std::size_t i = 0; keyword == word->keyword && i < word->menuSize; ++i)
    {
      if (word->menu[i] != current)
      {
        values.emplace_back(word->menu[i]);
      }
    }
  }
  for (const focusnet::FlagOption * flag : focusnet::option::Flags)
  {
    if (keyword == flag->keyword)
    {
      values.emplace_back(current == "true" ? "false" : "true");
    }
  }
  return values;
}

using focusnet::testing::RandomValues;
using focusnet::testing::SmallModelMetadata;

template <typename TImage>
typename TImage::Pointer
MakeImage(const typename TImage::SizeType & size, unsigned seed)
{
  auto image = TImage::New();
  image->SetRegions(size);
  typename TImage::SpacingType   spacing;
  typename TImage::PointType     origin;
  typename TImage::DirectionType direction;
  direction.SetIdentity();
  for (unsigned d = 0; d < TImage::ImageDimension; ++d)
  {
    spacing[d] = 0.5 + 0.25 * d;
    origin[d] = -10.0 * (d + 1);
  }
  // A rotation in the first two axes: the output must copy the direction, not assume identity.
  direction(0, 0) = 0.0;
  direction(0, 1) = -1.0;
  direction(1, 0) = 1.0;
  direction(1, 1) = 0.0;
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate();
  using Pixel = typename TImage::PixelType;
  constexpr unsigned components = itk::FocusNetDetail::ComponentCount<Pixel>();
  const auto         values = RandomValues(image->GetLargestPossibleRegion().GetNumberOfPixels() * components, seed);
  size_t             i = 0;
  for (itk::ImageRegionIterator<TImage> it(image, image->GetLargestPossibleRegion()); !it.IsAtEnd(); ++it)
  {
    Pixel pixel{};
    if constexpr (components == 1)
    {
      pixel = static_cast<Pixel>(values[i++]);
    }
    else
    {
      for (unsigned c = 0; c < components; ++c)
      {
        pixel[c] = static_cast<typename Pixel::ValueType>(values[i++]);
      }
    }
    it.Set(pixel);
  }
  return image;
}

template <typename TA, typename TB>
void
ExpectSameGeometry(const TA * a, const TB * b)
{
  EXPECT_EQ(a->GetLargestPossibleRegion(), b->GetLargestPossibleRegion());
  EXPECT_EQ(a->GetOrigin(), b->GetOrigin());
  EXPECT_EQ(a->GetSpacing(), b->GetSpacing());
  EXPECT_EQ(a->GetDirection(), b->GetDirection());
}

template <typename TA, typename TB>
double
MaxDifference(const TA * a, const TB * b)
{
  double                            worst = 0.0;
  itk::ImageRegionConstIterator<TA> ia(a, a->GetLargestPossibleRegion());
  itk::ImageRegionConstIterator<TB> ib(b, b->GetLargestPossibleRegion());
  for (; !ia.IsAtEnd() && !ib.IsAtEnd(); ++ia, ++ib)
  {
    worst = std::max(worst, std::abs(static_cast<double>(ia.Get()) - static_cast<double>(ib.Get())));
  }
  EXPECT_TRUE(ia.IsAtEnd() && ib.IsAtEnd());
  return worst;
}

class FocusNetImageFilterTest : public ::testing::Test
{
protected:
  static std::shared_ptr<const focusnet::Model>
  SharedModel(int channels = 1)
  {
    static auto gray = std::make_shared<const focusnet::Model>(focusnet::Model::Create(SmallModelMetadata(1), 21));
    static auto color = std::make_shared<const focusnet::Model>(focusnet::Model::Create(SmallModelMetadata(3), 22));
    return channels == 1 ? gray : color;
  }

  template <typename TImage>
  static typename itk::FocusNetImageFilter<TImage>::Pointer
  MakeFilter(const TImage * input, int channels = 1)
  {
    auto filter = itk::FocusNetImageFilter<TImage>::New();
    filter->SetInput(input);
    filter->SetModel(SharedModel(channels));
    filter->SetDevice("cpu");
    filter->SetNumberOfTorchThreads(2);
    filter->GenerateProbabilityMapOn();
    return filter;
  }

  /** Segments volume slice by slice along axis in batches of 4 and expects every slice's probabilities to be those of
   * the same slice, extracted, through the 2D filter. */
  template <typename TVolume>
  static void
  ExpectSlicesSegmentedAsTwoDimensionalImages(const TVolume * volume, unsigned axis, int channels)
  {
    using SliceType = itk::Image<typename TVolume::PixelType, 2>;
    auto filter = MakeFilter<TVolume>(volume, channels);
    filter->SetSliceAxis(axis);
    filter->SetBatchSize(4); // batches that do not divide the slice count
    filter->Update();
    ExpectSameGeometry(volume, filter->GetOutput());

    const auto count = volume->GetLargestPossibleRegion().GetSize(axis);
    for (itk::IndexValueType k = 0; k < static_cast<itk::IndexValueType>(count); ++k)
    {
      SCOPED_TRACE("slice " + std::to_string(k));
      auto region = volume->GetLargestPossibleRegion();
      region.SetIndex(axis, k);
      region.SetSize(axis, 0);
      auto extract = itk::ExtractImageFilter<TVolume, SliceType>::New();
      extract->SetInput(volume);
      extract->SetExtractionRegion(region);
      extract->SetDirectionCollapseToIdentity();
      auto slice2d = MakeFilter<SliceType>(extract->GetOutput(), channels);
      slice2d->Update();

      using ProbabilitySliceType = itk::Image<float, 2>;
      auto probabilities = itk::ExtractImageFilter<itk::Image<float, 3>, ProbabilitySliceType>::New();
      probabilities->SetInput(filter->GetProbabilityOutput());
      probabilities->SetExtractionRegion(region);
      probabilities->SetDirectionCollapseToIdentity();
      probabilities->Update();
      // Batches of 4 slices against single slices: equal up to the order BLAS sums in.
      EXPECT_LT(MaxDifference(slice2d->GetProbabilityOutput(), probabilities->GetOutput()), 1e-4);
    }
  }
};

TEST_F(FocusNetImageFilterTest, TwoDimensionalOutputsHaveTheInputsGeometry)
{
  using ImageType = itk::Image<short, 2>;
  auto image = MakeImage<ImageType>({ { 45, 37 } }, 1);
  auto filter = MakeFilter<ImageType>(image);
  filter->SetThreshold(0.5);
  filter->Update();
  ExpectSameGeometry(image.GetPointer(), filter->GetOutput());
  ExpectSameGeometry(image.GetPointer(), filter->GetProbabilityOutput());

  size_t                                                      labelled = 0;
  itk::ImageRegionConstIterator<itk::Image<unsigned char, 2>> label(filter->GetOutput(),
                                                                    image->GetLargestPossibleRegion());
  itk::ImageRegionConstIterator<itk::Image<float, 2>>         p(filter->GetProbabilityOutput(),
                                                        image->GetLargestPossibleRegion());
  for (; !label.IsAtEnd(); ++label, ++p)
  {
    ASSERT_GE(p.Get(), 0.0F);
    ASSERT_LE(p.Get(), 1.0F);
    ASSERT_EQ(label.Get(), p.Get() >= 0.5F ? 1 : 0); // the model's label value is 1
    labelled += label.Get() != 0;
  }
  EXPECT_GT(labelled, 0U);
  EXPECT_LT(labelled, image->GetLargestPossibleRegion().GetNumberOfPixels());
}

TEST_F(FocusNetImageFilterTest, ThresholdOverridesTheModel)
{
  using ImageType = itk::Image<float, 2>;
  auto image = MakeImage<ImageType>({ { 32, 32 } }, 2);
  auto filter = MakeFilter<ImageType>(image);
  filter->SetThreshold(1e-12);
  filter->Update();
  const auto everything = image->GetLargestPossibleRegion().GetNumberOfPixels();
  size_t     count = 0;
  for (itk::ImageRegionConstIterator<itk::Image<unsigned char, 2>> it(filter->GetOutput(),
                                                                      image->GetLargestPossibleRegion());
       !it.IsAtEnd();
       ++it)
  {
    count += it.Get() == 1;
  }
  EXPECT_EQ(count, everything);
}

TEST_F(FocusNetImageFilterTest, EveryAxisGivesTheSlicesOwnSegmentation)
{
  using VolumeType = itk::Image<float, 3>;
  auto volume = MakeImage<VolumeType>({ { 20, 24, 6 } }, 3);
  for (unsigned axis = 0; axis < 3; ++axis)
  {
    SCOPED_TRACE("axis " + std::to_string(axis));
    ExpectSlicesSegmentedAsTwoDimensionalImages<VolumeType>(volume, axis, 1);
  }
}

TEST_F(FocusNetImageFilterTest, ColourVolumesGiveEachSliceItsOwnSegmentation)
{
  // Several channels a pixel in batches of several slices: each slice's values start where the one before ends.
  using RgbVolumeType = itk::Image<itk::RGBPixel<unsigned char>, 3>;
  ExpectSlicesSegmentedAsTwoDimensionalImages<RgbVolumeType>(MakeImage<RgbVolumeType>({ { 20, 24, 6 } }, 6), 2, 3);
  // A gray volume under a colour model: each gray value goes to the three channels.
  using GrayVolumeType = itk::Image<short, 3>;
  ExpectSlicesSegmentedAsTwoDimensionalImages<GrayVolumeType>(MakeImage<GrayVolumeType>({ { 20, 24, 6 } }, 7), 2, 3);
}

TEST_F(FocusNetImageFilterTest, StreamingOverSlicesEqualsOneUpdate)
{
  using VolumeType = itk::Image<short, 3>;
  auto volume = MakeImage<VolumeType>({ { 33, 29, 7 } }, 4);
  auto oneShot = MakeFilter<VolumeType>(volume);
  oneShot->Update();

  auto                            streamed = MakeFilter<VolumeType>(volume);
  std::vector<itk::SizeValueType> slicesPerRun;
  streamed->AddObserver(itk::StartEvent(),
                        [&](const itk::EventObject &)
                        {
                          const auto requested = streamed->GetOutput()->GetRequestedRegion();
                          EXPECT_EQ(requested.GetSize(0), 33U); // whole slices
                          EXPECT_EQ(requested.GetSize(1), 29U);
                          slicesPerRun.push_back(requested.GetSize(2));
                        });
  auto streamer = itk::StreamingImageFilter<itk::Image<unsigned char, 3>, itk::Image<unsigned char, 3>>::New();
  streamer->SetInput(streamed->GetOutput());
  streamer->SetNumberOfStreamDivisions(4);
  streamer->Update();

  EXPECT_EQ(slicesPerRun.size(), 4U);
  EXPECT_LE(*std::max_element(slicesPerRun.begin(), slicesPerRun.end()), 2U); // only one stream's slices at a time
  ExpectSameGeometry(oneShot->GetOutput(), streamer->GetOutput());
  EXPECT_EQ(MaxDifference(oneShot->GetOutput(), streamer->GetOutput()), 0.0);
}

TEST_F(FocusNetImageFilterTest, RgbImagesWithColourAndGrayModels)
{
  using RgbType = itk::Image<itk::RGBPixel<unsigned char>, 2>;
  auto image = MakeImage<RgbType>({ { 40, 30 } }, 5);
  auto color = MakeFilter<RgbType>(image, 3);
  color->Update();
  ExpectSameGeometry(image.GetPointer(), color->GetOutput());

  // A gray model sees the luminance of an RGB image.
  using GrayType = itk::Image<float, 2>;
  auto luminance = GrayType::New();
  luminance->CopyInformation(image);
  luminance->SetRegions(image->GetLargestPossibleRegion());
  luminance->Allocate();
  itk::ImageRegionConstIterator<RgbType> in(image, image->GetLargestPossibleRegion());
  itk::ImageRegionIterator<GrayType>     out(luminance, image->GetLargestPossibleRegion());
  for (; !in.IsAtEnd(); ++in, ++out)
  {
    out.Set(0.299F * in.Get()[0] + 0.587F * in.Get()[1] + 0.114F * in.Get()[2]);
  }
  auto grayOfColor = MakeFilter<RgbType>(image, 1);
  grayOfColor->Update();
  auto gray = MakeFilter<GrayType>(luminance, 1);
  gray->Update();
  EXPECT_LT(MaxDifference(grayOfColor->GetProbabilityOutput(), gray->GetProbabilityOutput()), 1e-5);
}

TEST_F(FocusNetImageFilterTest, ReportsProgressUpToOne)
{
  using VolumeType = itk::Image<float, 3>;
  auto               volume = MakeImage<VolumeType>({ { 16, 16, 5 } }, 6);
  auto               filter = MakeFilter<VolumeType>(volume);
  std::vector<float> progress;
  filter->SetBatchSize(2);
  filter->AddObserver(itk::ProgressEvent(),
                      [&](const itk::EventObject &) { progress.push_back(filter->GetProgress()); });
  filter->Update();
  ASSERT_GE(progress.size(), 3U); // 0, after each of three batches
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_FLOAT_EQ(progress.back(), 1.0F);
}

TEST_F(FocusNetImageFilterTest, ErrorsAreItkExceptions)
{
  using ImageType = itk::Image<float, 3>;
  auto image = MakeImage<ImageType>({ { 16, 16, 2 } }, 7);

  auto noModel = itk::FocusNetImageFilter<ImageType>::New();
  noModel->SetInput(image);
  EXPECT_THROW(noModel->Update(), itk::ExceptionObject);

  auto badAxis = MakeFilter<ImageType>(image);
  badAxis->SetSliceAxis(3);
  EXPECT_THROW(badAxis->Update(), itk::ExceptionObject);

  auto badDevice = MakeFilter<ImageType>(image);
  try
  {
    badDevice->SetDevice("tpu"); // refused here: no focusnet::Device has that name
    ADD_FAILURE() << "no exception";
  }
  catch (const itk::ExceptionObject & e)
  {
    EXPECT_NE(std::string(e.GetDescription()).find("device must be auto, cpu, cuda or cuda:N, not 'tpu'"),
              std::string::npos)
      << e.GetDescription();
  }

  using TwoChannelType = itk::Image<itk::Vector<float, 2>, 2>;
  auto twoChannels = MakeImage<TwoChannelType>({ { 16, 16 } }, 8);
  auto mismatch = MakeFilter<TwoChannelType>(twoChannels, 3);
  EXPECT_THROW(mismatch->Update(), itk::ExceptionObject);

  auto missingFile = itk::FocusNetImageFilter<ImageType>::New();
  missingFile->SetInput(image);
  missingFile->SetModelFileName("/nonexistent/model.fnm");
  EXPECT_THROW(missingFile->Update(), itk::ExceptionObject);
}

TEST_F(FocusNetImageFilterTest, DefaultsAreThoseOfEveryOtherDoor)
{
  // The values the command's help, the Python signature and the Slicer XML show (tests/bad_inputs), by hand.
  auto filter = itk::FocusNetImageFilter<itk::Image<float, 3>>::New();
  EXPECT_STREQ(filter->GetDevice(), "auto");
  EXPECT_EQ(filter->GetNumberOfTorchThreads(), 0U);
  EXPECT_EQ(filter->GetBatchSize(), 8U);
  EXPECT_STREQ(filter->GetPrecision(), "fp32");
  EXPECT_FALSE(filter->GetTestTimeAugmentation());
  EXPECT_TRUE(std::isnan(filter->GetThreshold())); // the model file's
  EXPECT_EQ(filter->GetSliceAxis(), 2U);
}

TEST_F(FocusNetImageFilterTest, OptionsOutOfRangeAreRefusedInTheLibrarysWords)
{
  using ImageType = itk::Image<float, 2>;
  auto image = MakeImage<ImageType>({ { 16, 16 } }, 7);
  // The words the command and Python use (tests/bad_inputs), written here by hand.
  const std::vector<std::pair<std::function<void(itk::FocusNetImageFilter<ImageType> &)>, std::string>> cases = {
    { [](auto & f) { f.SetBatchSize(0); }, "batch size must lie in [1, 256], not 0" },
    { [](auto & f) { f.SetBatchSize(257); }, "batch size must lie in [1, 256], not 257" },
    { [](auto & f) { f.SetNumberOfTorchThreads(300); }, "threads must lie in [0, 256], not 300" },
    { [](auto & f) { f.SetThreshold(7); }, "threshold must lie strictly between 0 and 1, not 7" },
    { [](auto & f) { f.SetThreshold(0); }, "threshold must lie strictly between 0 and 1, not 0" },
    { [](auto & f) { f.SetPrecision("fp8"); }, "precision must be fp32, bf16 or fp16, not 'fp8'" },
  };
  for (const auto & [set, words] : cases)
  {
    auto filter = MakeFilter<ImageType>(image);
    filter->Update();
    const focusnet::InferenceEngine * engine = filter->GetInferenceEngine();
    const focusnet::InferenceOptions  options = engine->Options();
    try
    {
      set(*filter); // a device or precision is refused here, a number when the filter runs
      filter->Update();
      ADD_FAILURE() << "no exception: " << words;
    }
    catch (const itk::ExceptionObject & e)
    {
      EXPECT_NE(std::string(e.GetDescription()).find(words), std::string::npos) << e.GetDescription();
    }
    // Refused by the filter's own checks, before the old network was let go for a new one.
    ASSERT_EQ(filter->GetInferenceEngine(), engine) << words; // (not to read a freed engine below)
    EXPECT_EQ(engine->Options(), options) << words;
  }
}

TEST_F(FocusNetImageFilterTest, ChangingAnyInferenceOptionChangesTheEngineThatRuns)
{
  // Every field of focusnet::InferenceOptions has its option in the library's table: a field added and not listed
  // there stops this test compiling, so the walk below covers it without a test of its own.
  static_assert(FieldCount<focusnet::InferenceOptions>() == std::size(focusnet::InferenceOptionKeywords));
  using ImageType = itk::Image<float, 2>;
  auto filter = MakeFilter<ImageType>(MakeImage<ImageType>({ { 16, 16 } }, 7));
  filter->Update();
  ASSERT_NE(filter->GetInferenceEngine(), nullptr);
  EXPECT_EQ(filter->GetInferenceEngine()->Options(), filter->GetInferenceOptions());
  for (const char * keyword : focusnet::InferenceOptionKeywords)
  {
    // Each value the option's description offers (a step either side, its menu, on and off), set alone: the next
    // run's engine has it, or it is one this machine cannot run (a GPU, fp16 on a CPU) and the old engine stays.
    int ran = 0;
    for (const std::string & text : OtherValues(keyword, filter->GetInferenceOptions()))
    {
      const focusnet::InferenceEngine * before = filter->GetInferenceEngine();
      focusnet::InferenceOptions        options = before->Options();
      focusnet::SetInferenceOption(options, keyword, text);
      filter->SetInferenceOptions(options);
      try
      {
        filter->Update();
        ++ran;
        // Read field by field (not by operator==, which the filter's own reuse test is).
        EXPECT_EQ(Fields(filter->GetInferenceEngine()->Options()), Fields(options)) << keyword << " = " << text;
      }
      catch (const itk::ExceptionObject & e)
      {
        // Only for what this machine lacks: a GPU, or a CPU that computes bf16.
        const std::string why = e.GetDescription();
        EXPECT_EQ(filter->GetInferenceEngine(), before) << keyword << " = " << text << ": " << why;
        EXPECT_TRUE(why.find("CUDA device") != std::string::npos || why.find("on GPUs only") != std::string::npos ||
                    why.find("needs a CPU with AVX512-BF16") != std::string::npos)
          << keyword << " = " << text << ": " << why;
        filter->SetInferenceOptions(before->Options()); // back to what ran, for the next value
      }
    }
    // Every option changes on any machine, but the precision on a CPU without bf16 (fp32 is all it runs).
    const bool fixed = std::string(keyword) == focusnet::option::Precision.keyword && !focusnet::CudaAvailable() &&
                       !focusnet::NativeBFloat16();
    EXPECT_EQ(ran > 0, !fixed) << keyword;
  }
  // The filter's own accessors write the same value.
  filter->SetDevice("cpu");
  filter->SetBatchSize(3);
  filter->SetNumberOfTorchThreads(2);
  filter->SetTestTimeAugmentation(true);
  filter->SetPrecision("fp32");
  focusnet::InferenceOptions options;
  options.device = "cpu";
  options.batchSize = 3;
  options.threads = 2;
  options.flipAugmentation = true;
  EXPECT_EQ(filter->GetInferenceOptions(), options);
  filter->Update();
  EXPECT_EQ(filter->GetInferenceEngine()->Options(), options);
}

TEST_F(FocusNetImageFilterTest, ModelFileIsLoadedOnce)
{
  focusnet::testing::ScratchDirectory directory;
  focusnet::Model::Create(SmallModelMetadata(), 30).Save(directory / "m.fnm");
  using ImageType = itk::Image<float, 2>;
  auto filter = itk::FocusNetImageFilter<ImageType>::New();
  filter->SetInput(MakeImage<ImageType>({ { 16, 16 } }, 9));
  filter->SetModelFileName(directory / "m.fnm");
  filter->SetDevice("cpu");
  filter->Update();
  const auto first = filter->GetModel();
  filter->SetThreshold(0.3);
  filter->Update();
  EXPECT_EQ(filter->GetModel(), first);
  std::ostringstream printed;
  filter->Print(printed);
  EXPECT_NE(printed.str().find("m.fnm"), std::string::npos);
}

TEST_F(FocusNetImageFilterTest, SwappingModelsChangesTheOutput)
{
  // A swap may free the old model before the new one is made, and the new one may then sit at the old address: the
  // filter must not take it for the model its engine was built from.
  focusnet::testing::ScratchDirectory directory;
  focusnet::Model::Create(SmallModelMetadata(), 31).Save(directory / "a.fnm");
  focusnet::Model::Create(SmallModelMetadata(), 32).Save(directory / "b.fnm");
  using ImageType = itk::Image<float, 2>;
  const auto image = MakeImage<ImageType>({ { 24, 20 } }, 10);
  auto       probabilitiesOf = [&](auto && configure)
  {
    auto filter = MakeFilter<ImageType>(image);
    configure(*filter);
    filter->Update();
    itk::Image<float, 2>::Pointer probabilities = filter->GetProbabilityOutput();
    probabilities->DisconnectPipeline();
    return probabilities;
  };
  const auto a = probabilitiesOf(
    [&](auto & f) { f.SetModel(std::make_shared<const focusnet::Model>(focusnet::Model::Load(directory / "a.fnm"))); });
  const auto b = probabilitiesOf(
    [&](auto & f) { f.SetModel(std::make_shared<const focusnet::Model>(focusnet::Model::Load(directory / "b.fnm"))); });
  ASSERT_GT(MaxDifference(a.GetPointer(), b.GetPointer()), 1e-3) << "the two models must disagree for this test";

  auto filter = MakeFilter<ImageType>(image);
  filter->SetModelFileName(directory / "a.fnm");
  filter->SetModel(nullptr);
  filter->Update();
  EXPECT_EQ(MaxDifference(filter->GetProbabilityOutput(), a.GetPointer()), 0.0);
  filter->SetModelFileName(directory / "b.fnm");
  filter->Update();
  EXPECT_EQ(MaxDifference(filter->GetProbabilityOutput(), b.GetPointer()), 0.0) << "swapped by file name";

  // The worst an allocator can do, done on purpose: each model is built in the first free one of two slots, so as
  // soon as the filter lets go of a model, the next one takes its address.
  struct Slot
  {
    alignas(focusnet::Model) unsigned char bytes[sizeof(focusnet::Model)];
    bool used{ false };
  };
  std::array<Slot, 2> slots;
  auto                place = [&slots](std::uint64_t seed)
  {
    Slot & slot = slots[0].used ? slots[1] : slots[0];
    EXPECT_FALSE(slot.used) << "the test holds at most two models";
    slot.used = true;
    auto * model = new (slot.bytes) focusnet::Model(focusnet::Model::Create(SmallModelMetadata(), seed));
    return std::shared_ptr<const focusnet::Model>(model,
                                                  [&slot](const focusnet::Model * m)
                                                  {
                                                    m->~Model();
                                                    slot.used = false;
                                                  });
  };
  auto swapped = MakeFilter<ImageType>(image);
  for (std::uint64_t seed : { 31, 32, 31 })
  {
    swapped->SetModel(nullptr); // the filter lets go of the last model before the next one is made
    swapped->SetModel(place(seed));
    swapped->Update();
    EXPECT_EQ(MaxDifference(swapped->GetProbabilityOutput(), seed == 31 ? a.GetPointer() : b.GetPointer()), 0.0)
      << "swapped with SetModel to seed " << seed;
  }
  swapped = nullptr; // before the slots go
}

} // namespace
