/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetTestUtilities_h
#define focusnetTestUtilities_h

#include "focusnetError.h"
#include "focusnetModel.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace focusnet::testing
{

/** A fresh folder under the build tree's temporary directory, removed when the test ends. */
class ScratchDirectory
{
public:
  ScratchDirectory()
  {
    const auto * info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_Path =
      std::filesystem::path(FOCUSNET_TEST_TEMPORARY_DIR) / (std::string(info->test_suite_name()) + "." + info->name());
    std::filesystem::remove_all(m_Path);
    std::filesystem::create_directories(m_Path);
  }
  ~ScratchDirectory() { std::filesystem::remove_all(m_Path); }
  ScratchDirectory(const ScratchDirectory &) = delete;
  ScratchDirectory &
  operator=(const ScratchDirectory &) = delete;

  std::string
  operator/(const std::string & name) const
  {
    return (m_Path / name).string();
  }
  const std::filesystem::path &
  Path() const
  {
    return m_Path;
  }
  /** The names of the files in the folder, to check that a failure left nothing behind. */
  std::vector<std::string>
  Files() const
  {
    std::vector<std::string> names;
    for (const auto & entry : std::filesystem::directory_iterator(m_Path))
    {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

private:
  std::filesystem::path m_Path;
};

/** The real data sets shared by the project (read-only). Tests that use them have RealData in their suite's name:
 * tests/CMakeLists.txt registers them only where the data is. */
inline std::string
SharedData(const std::string & relative)
{
  return (std::filesystem::path(FOCUSNET_SHARED_DATA_DIR) / relative).string();
}

/** The lung CT slice bundled in test_data/ (a copy of a Kaggle slice), for tests that need no shared data set. */
inline std::string
BundledLungSlice()
{
  return std::string(FOCUSNET_SOURCE_DIR) + "/test_data/Input/lung_ct_ID_0000_Z_0142.tif";
}

/** A small, fast, untrained model: FocusNet at width 0.25 on 32 x 32 inputs. */
inline ModelMetadata
SmallModelMetadata(int channels = 1, const std::string & architecture = "focusnet")
{
  ModelMetadata metadata;
  metadata.architecture.name = architecture;
  metadata.architecture.inputChannels = channels;
  metadata.architecture.width = 0.25;
  metadata.inputSize = 32;
  metadata.normalization.mean.assign(static_cast<size_t>(channels), 100.0);
  metadata.normalization.standardDeviation.assign(static_cast<size_t>(channels), 50.0);
  return metadata;
}

inline std::vector<float>
RandomValues(size_t count, unsigned seed, float low = 0.0F, float high = 255.0F)
{
  std::mt19937                          generator(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float>                    values(count);
  for (float & v : values)
  {
    v = distribution(generator);
  }
  return values;
}

/** Runs f, expects a focusnet::Error whose message contains every one of the given fragments. */
template <typename F>
void
ExpectErrorContaining(F && f, const std::vector<std::string> & fragments)
{
  try
  {
    f();
    ADD_FAILURE() << "no focusnet::Error thrown";
  }
  catch (const Error & e)
  {
    for (const std::string & fragment : fragments)
    {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
    }
  }
}

} // namespace focusnet::testing

#endif
