/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Reading the real files in ../shared/data: TIFF int16, JPEG, DICOM series (JPEG 2000), MR, RGB ultrasound.

#include "focusnetDicom.h"
#include "focusnetImageIO.hxx"
#include "focusnetImagePairs.h"
#include "focusnetTestUtilities.h"

#include "itkMinimumMaximumImageCalculator.h"
#include "itkRGBPixel.h"

#include <algorithm>
#include <fstream>

namespace
{
using namespace focusnet;
using focusnet::testing::BundledLungSlice;
using focusnet::testing::ExpectErrorContaining;
using focusnet::testing::ScratchDirectory;
using focusnet::testing::SharedData;

template <typename TImage>
std::pair<double, double>
Range(const TImage * image)
{
  auto calculator = itk::MinimumMaximumImageCalculator<TImage>::New();
  calculator->SetImage(image);
  calculator->Compute();
  return { calculator->GetMinimum(), calculator->GetMaximum() };
}

TEST(FocusNetImageIO, LungTiffIsSigned16Bit)
{
  const ImageSource source = InspectImageSource(BundledLungSlice());
  EXPECT_EQ(source.dimension, 2U);
  EXPECT_EQ(source.components, 1U);
  EXPECT_FALSE(source.dicom);
  const auto image = ReadImageSource<itk::Image<float, 2>>(source);
  EXPECT_EQ(image->GetLargestPossibleRegion().GetSize(), (itk::Size<2>{ { 512, 512 } }));
  const auto [low, high] = Range(image.GetPointer());
  EXPECT_LT(low, -900.0); // Hounsfield units: negative values survive (read as uint16 they would not)
  EXPECT_GT(high, 500.0);
}

TEST(FocusNetImageIORealData, DermoscopyJpegIsRgb)
{
  const ImageSource source = InspectImageSource(SharedData("isic2017_sample/images/ISIC_0009995.jpg"));
  EXPECT_EQ(source.dimension, 2U);
  EXPECT_EQ(source.components, 3U);
  const auto image = ReadImageSource<itk::Image<itk::RGBPixel<unsigned char>, 2>>(source);
  EXPECT_EQ(image->GetLargestPossibleRegion().GetSize(), (itk::Size<2>{ { 1024, 768 } }));
}

TEST(FocusNetImageIORealData, CtSeriesInJpeg2000ReadsInHounsfieldUnits)
{
  const ImageSource source = InspectImageSource(SharedData("dicom_samples/ct_series_totalsegmentator"));
  EXPECT_TRUE(source.dicom);
  EXPECT_EQ(source.files.size(), 20U);
  EXPECT_EQ(source.dimension, 3U);
  const auto image = ReadImageSource<itk::Image<float, 3>>(source);
  EXPECT_EQ(image->GetLargestPossibleRegion().GetSize(), (itk::Size<3>{ { 512, 512, 20 } }));
  EXPECT_NEAR(image->GetSpacing()[0], 0.9765625, 1e-6);
  EXPECT_NEAR(image->GetSpacing()[2], 2.0, 1e-3); // slice distance, not the 3 mm thickness
  const auto [low, high] = Range(image.GetPointer());
  EXPECT_EQ(low, -1024.0); // stored 0 with RescaleIntercept -1024
  EXPECT_EQ(high, 1839.0);
}

TEST(FocusNetImageIORealData, MrSeriesAndRgbUltrasound)
{
  const ImageSource mr = InspectImageSource(SharedData("dicom_samples/mr_series_babymri"));
  EXPECT_EQ(mr.files.size(), 6U);
  EXPECT_EQ(mr.components, 1U);
  const ImageSource us = InspectImageSource(SharedData("dicom_samples/single/examples_rgb_color.dcm"));
  EXPECT_TRUE(us.dicom);
  EXPECT_EQ(us.components, 3U);
  const auto image = ReadImageSource<itk::Image<itk::RGBPixel<unsigned char>, 3>>(us);
  EXPECT_EQ(image->GetLargestPossibleRegion().GetSize()[0], 320U);
  EXPECT_EQ(image->GetLargestPossibleRegion().GetSize()[1], 240U);
}

TEST(FocusNetImageIORealData, FolderWithSeveralSeriesNeedsAChoice)
{
  const std::string folder = SharedData("dicom_samples/single");
  const auto        series = ScanDicomTree(folder).series;
  ASSERT_EQ(series.size(), 5U);
  ExpectErrorContaining([&] { InspectImageSource(folder); },
                        { folder, "5 DICOM series", "SeriesInstanceUID", series[1].seriesUid });
  const ImageSource chosen = InspectImageSource(folder, series[1].seriesUid);
  ASSERT_EQ(chosen.files.size(), 1U);
  EXPECT_EQ(chosen.files.front(), series[1].instances.front().path);
  ExpectErrorContaining([&] { InspectImageSource(folder, "1.2.3.4"); },
                        { "no DICOM series with SeriesInstanceUID 1.2.3.4" });
}

TEST(FocusNetImageIO, BadInputsNameTheFile)
{
  ScratchDirectory directory;
  ExpectErrorContaining([&] { InspectImageSource(directory / "missing.tif"); }, { "missing.tif", "no such file" });
  ExpectErrorContaining([&] { InspectImageSource(directory.Path().string()); }, { "no DICOM series" });
  const std::string text = std::string(FOCUSNET_SOURCE_DIR) + "/test_data/README.md";
  ExpectErrorContaining([&] { InspectImageSource(text); }, { text, "is not an image FocusNet can read" });

  // A TIFF cut short: the header is fine, the pixels are missing.
  std::ifstream original(BundledLungSlice(), std::ios::binary);
  std::string   bytes(4000, '\0');
  original.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::ofstream(directory / "cut.tif", std::ios::binary) << bytes;
  ExpectErrorContaining(
    [&]
    {
      const ImageSource source = InspectImageSource(directory / "cut.tif");
      ReadImageSource<itk::Image<float, 2>>(source);
    },
    { "cut.tif", "damaged" });
}

TEST(FocusNetImageIO, OutputFormatsAreCheckedByExtension)
{
  for (const char * name : { "a.nrrd", "a.nii", "a.nii.gz", "a.mha", "a.tif", "a.TIFF" })
  {
    EXPECT_NO_THROW(CheckOutputImageFileName(name, 3, true)) << name;
  }
  EXPECT_NO_THROW(CheckOutputImageFileName("a.png", 2, false));
  ExpectErrorContaining([] { CheckOutputImageFileName("a.png", 3, false); }, { "a.png", "2D" });
  ExpectErrorContaining([] { CheckOutputImageFileName("a.png", 2, true); }, { "a.png" });
  ExpectErrorContaining([] { CheckOutputImageFileName("a.jpg", 2, false); }, { "a.jpg", "'.jpg'" });
  ExpectErrorContaining([] { CheckOutputImageFileName("labels", 2, false); }, { "labels" });
}

TEST(FocusNetImageIORealData, SingleDicomSliceWithAMaskFromAListFile)
{
  // Training and evaluation take 2D pairs; a single DICOM file is a volume one slice thick.
  ScratchDirectory directory;
  using MaskType = itk::Image<unsigned char, 2>;
  auto mask = MaskType::New();
  mask->SetRegions(itk::Size<2>{ { 128, 128 } });
  mask->Allocate(true);
  mask->SetPixel({ { 3, 4 } }, 255);
  WriteImageAtomically(mask.GetPointer(), directory / "mask.nrrd");
  std::ofstream(directory / "list.txt") << "# image,mask\n"
                                        << SharedData("dicom_samples/single/CT_small.dcm") << ",mask.nrrd\n";

  const auto pairs = ReadImagePairList(directory / "list.txt");
  ASSERT_EQ(pairs.size(), 1U);
  EXPECT_EQ(pairs[0].name, "CT_small");
  const ImageSlice slice = ReadImagePair(pairs[0]);
  EXPECT_EQ(slice.width, 128);
  EXPECT_EQ(slice.height, 128);
  EXPECT_EQ(slice.channels, 1);
  EXPECT_EQ(slice.mask[4 * 128 + 3], 1); // 255 becomes 1
  EXPECT_EQ(std::count(slice.mask.begin(), slice.mask.end(), 1), 1);
  EXPECT_LT(*std::min_element(slice.pixels.begin(), slice.pixels.end()), 0.0F); // CT values, signed
}

TEST(FocusNetImageIO, WriteRoundTripKeepsGeometry)
{
  ScratchDirectory directory;
  using ImageType = itk::Image<unsigned char, 3>;
  auto image = ImageType::New();
  image->SetRegions(itk::Size<3>{ { 5, 4, 3 } });
  image->Allocate(true);
  image->SetSpacing(itk::Vector<double, 3>(std::array<double, 3>{ { 0.5, 0.75, 2.0 } }.data()));
  image->SetOrigin(itk::Point<double, 3>(std::array<double, 3>{ { 1.0, -2.0, 3.0 } }.data()));
  image->SetPixel({ { 1, 2, 1 } }, 7);
  for (const char * name : { "a.nrrd", "a.nii.gz", "a.mha" })
  {
    WriteImageAtomically(image.GetPointer(), directory / name);
    const auto back = ReadImageSource<ImageType>(InspectImageSource(directory / name));
    EXPECT_EQ(back->GetSpacing(), image->GetSpacing()) << name;
    EXPECT_EQ(back->GetPixel({ { 1, 2, 1 } }), 7) << name;
  }
}

} // namespace
