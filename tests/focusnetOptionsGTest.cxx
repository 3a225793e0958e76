/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The options as the library describes them: devices and precisions as values, numbers read from text, every field
// of InferenceOptions by its option's keyword. Expected words and values are written here by hand.

#include "focusnetInferenceEngine.h"
#include "focusnetOptions.h"
#include "focusnetTestUtilities.h"

#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace
{
using namespace focusnet;
using focusnet::testing::ExpectErrorContaining;

TEST(FocusNetOptions, DevicesAreValuesMadeOnlyFromTheirNames)
{
  EXPECT_EQ(Device().GetKind(), Device::Kind::Auto); // the default
  EXPECT_EQ(Device().Name(), "auto");
  EXPECT_EQ(Device("cpu").GetKind(), Device::Kind::Cpu);
  EXPECT_EQ(Device("cuda").GetKind(), Device::Kind::Cuda);
  EXPECT_EQ(Device("cuda").GetIndex(), -1); // the current GPU
  EXPECT_EQ(Device("cuda:12").GetIndex(), 12);
  EXPECT_EQ(Device("cuda:0003").Name(), "cuda:3"); // written as the option writes it
  EXPECT_EQ(Device("cuda:0003"), Device("cuda:3"));
  EXPECT_NE(Device("cuda"), Device("cuda:0"));
  EXPECT_NE(Device("auto"), Device("cpu"));
  std::ostringstream printed;
  printed << Device("cuda:2") << ' ' << Precision("bf16");
  EXPECT_EQ(printed.str(), "cuda:2 bf16");
  for (const std::string bad : { "gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:12345", " cpu", "" })
  {
    ExpectErrorContaining([&] { Device{ bad }; }, { "device must be auto, cpu, cuda or cuda:N, not '" + bad + "'" });
  }
}

TEST(FocusNetOptions, PrecisionsAreValuesMadeOnlyFromTheirNames)
{
  EXPECT_EQ(Precision().GetFormat(), Precision::Format::FP32); // the default
  EXPECT_EQ(Precision("bf16").GetFormat(), Precision::Format::BF16);
  EXPECT_EQ(Precision("fp16").GetFormat(), Precision::Format::FP16);
  EXPECT_STREQ(Precision("fp16").Name(), "fp16");
  EXPECT_STREQ(Precision("fp32").Name(), "fp32");
  EXPECT_NE(Precision("bf16"), Precision("fp16"));
  for (const std::string bad : { "fp8", "FP32", "float", "" })
  {
    ExpectErrorContaining([&] { Precision{ bad }; }, { "precision must be fp32, bf16 or fp16, not '" + bad + "'" });
  }
}

TEST(FocusNetOptions, NumbersAreReadInDecimalAsTheyAreChecked)
{
  EXPECT_EQ(DecimalNumber("010"), 10.0); // not octal's 8
  EXPECT_EQ(ShortestNumber(0.2), "0.2"); // not 0.20000000000000001
  EXPECT_EQ(ShortestNumber(1e7), "10000000");
  EXPECT_EQ(ShortestNumber(1e-4), "0.0001");
  EXPECT_EQ(ShortestNumber(-0.0), "0");
  EXPECT_EQ(DecimalNumber("-0.25"), -0.25);
  EXPECT_EQ(DecimalNumber("1e-3"), 0.001);
  EXPECT_EQ(DecimalNumber("+8"), 8.0);
  for (const std::string text : { "0x10", "inf", "nan", "1e-400", "1e400", "8 ", "", "1,5", "+-8", "--8", "+" })
  {
    EXPECT_FALSE(DecimalNumber(text).has_value()) << text;
  }
  const std::vector<std::pair<std::string, std::string>> refusals = {
    { "0x1", "batch size must be a decimal number, not '0x1'" },
    { "2.5", "batch size must be a whole number, not 2.5" },
    { "257", "batch size must lie in [1, 256], not 257" },
    { "1e400", "batch size must be a decimal number, not '1e400'" },
    { "8", "" },
    { "1e2", "" }, // a hundred, whole
  };
  for (const auto & [text, words] : refusals)
  {
    EXPECT_EQ(TextRefusal(option::BatchSize, text), words) << text;
  }
  EXPECT_EQ(TextRefusal(option::Threshold, "0.25"), ""); // not a whole-number option
  EXPECT_EQ(TextRefusal(option::Threshold, "1"), "threshold must lie strictly between 0 and 1, not 1");
}

TEST(FocusNetOptions, EveryInferenceFieldIsSetAndReadByItsKeyword)
{
  // A value other than the default for each field, by the option's keyword, as a command line gives it.
  const std::vector<std::pair<std::string, std::string>> values = {
    { "device", "cuda:1" }, { "threads", "3" }, { "batch_size", "16" }, { "tta", "true" }, { "precision", "bf16" },
  };
  ASSERT_EQ(values.size(), std::size(InferenceOptionKeywords));
  InferenceOptions options;
  for (const auto & [keyword, text] : values)
  {
    const InferenceOptions before = options;
    SetInferenceOption(options, keyword, text);
    EXPECT_NE(options, before) << keyword; // one field changed...
    EXPECT_EQ(GetInferenceOption(options, keyword), text) << keyword;
  }
  EXPECT_EQ(options.device, Device("cuda:1")); // ...each the one it names
  EXPECT_EQ(options.threads, 3);
  EXPECT_EQ(options.batchSize, 16);
  EXPECT_TRUE(options.flipAugmentation);
  EXPECT_EQ(options.precision, Precision("bf16"));

  const InferenceOptions set = options;
  ExpectErrorContaining([&] { SetInferenceOption(options, "batch_size", "0x10"); },
                        { "batch size must be a decimal number, not '0x10'" });
  ExpectErrorContaining([&] { SetInferenceOption(options, "threads", "-1"); },
                        { "threads must lie in [0, 256], not -1" });
  ExpectErrorContaining([&] { SetInferenceOption(options, "tta", "yes"); },
                        { "test-time augmentation must be true or false, not 'yes'" });
  ExpectErrorContaining([&] { SetInferenceOption(options, "device", "tpu"); },
                        { "device must be auto, cpu, cuda or cuda:N, not 'tpu'" });
  ExpectErrorContaining([&] { SetInferenceOption(options, "batchSize", "8"); },
                        { "no inference option is called 'batchSize'" });
  EXPECT_EQ(options, set); // a refused value changes nothing
}

} // namespace
