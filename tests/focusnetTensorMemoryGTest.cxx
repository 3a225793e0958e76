/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Where LibTorch's CPU tensors get their memory once KeepLargeTensorMemory() is called: large tensors in mappings
// the kernel lists as advised for huge pages, reused, merged, given back, never overlapping. The mappings are read
// from /proc/self/smaps, the kernel's own account. ctest runs each test in a process of its own.

#include "focusnetTensorMemory.h"

#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace
{
using namespace focusnet;

constexpr int64_t kMiB = int64_t{ 1 } << 20;

/** A float tensor of the given size in bytes. */
torch::Tensor
TensorOfBytes(int64_t bytes)
{
  return torch::empty({ bytes / 4 });
}

/** The VmFlags line of the mapping that holds address ("" when no mapping does), from /proc/self/smaps. */
std::string
MappingFlags(const void * address)
{
  const auto    target = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  bool          inside = false;
  for (std::string line; std::getline(smaps, line);)
  {
    std::uintptr_t     begin = 0, end = 0;
    char               dash = 0;
    std::istringstream range(line);
    if (line.find("VmFlags:") == 0)
    {
      if (inside)
      {
        return line + " ";
      }
    }
    else if ((range >> std::hex >> begin >> dash >> end) && dash == '-' && line.find(' ') > line.find('-'))
    {
      inside = begin <= target && target < end;
    }
  }
  return "";
}

class TensorMemory : public ::testing::Test
{
protected:
  void
  SetUp() override
  {
    unsetenv("FOCUSNET_KEEP_TENSOR_MEMORY");
    KeepLargeTensorMemory();
  }
};

TEST_F(TensorMemory, LargeTensorsLiveInMappingsAdvisedForHugePages)
{
  const torch::Tensor large = TensorOfBytes(4 * kMiB);
  const torch::Tensor small = TensorOfBytes(64 * 1024);
  EXPECT_NE(MappingFlags(large.data_ptr()).find(" hg "), std::string::npos) << MappingFlags(large.data_ptr());
  EXPECT_EQ(MappingFlags(small.data_ptr()).find(" hg "), std::string::npos) << MappingFlags(small.data_ptr());
  EXPECT_GE(MappedTensorBytes(), static_cast<std::size_t>(4 * kMiB));
}

TEST_F(TensorMemory, FreedMemoryIsReusedNotMappedAgain)
{
  const void * first = TensorOfBytes(24 * kMiB).data_ptr(); // freed at once
  const void * second = TensorOfBytes(24 * kMiB).data_ptr();
  EXPECT_EQ(first, second);

  // A network's pattern, many times over: the mapped total stays where the first round left it.
  auto round = []
  {
    std::vector<torch::Tensor> live;
    for (const int64_t mib : { 32, 32, 16, 8, 8, 4, 2, 4, 8, 16, 32 })
    {
      live.push_back(TensorOfBytes(mib * kMiB));
      if (live.size() > 3)
      {
        live.erase(live.begin() + 1);
      }
    }
  };
  round();
  const std::size_t mapped = MappedTensorBytes();
  for (int i = 0; i < 50; ++i)
  {
    round();
  }
  EXPECT_EQ(MappedTensorBytes(), mapped);
}

TEST_F(TensorMemory, FreedNeighboursMergeIntoOneSpan)
{
  auto   a = TensorOfBytes(20 * kMiB), b = TensorOfBytes(20 * kMiB), c = TensorOfBytes(20 * kMiB);
  auto * begin = static_cast<char *>(a.data_ptr());
  ASSERT_EQ(static_cast<char *>(b.data_ptr()), begin + 20 * kMiB); // carved one after the other from a region
  ASSERT_EQ(static_cast<char *>(c.data_ptr()), begin + 40 * kMiB);
  const std::size_t mapped = MappedTensorBytes();
  b = torch::Tensor(); // alone: no free neighbour yet
  a = torch::Tensor(); // merges with the span after it
  c = torch::Tensor(); // merges with the span before it
  const torch::Tensor whole = TensorOfBytes(60 * kMiB);
  EXPECT_EQ(static_cast<char *>(whole.data_ptr()), begin);
  EXPECT_EQ(MappedTensorBytes(), mapped);
}

TEST_F(TensorMemory, UnusedRegionsAreGivenBack)
{
  const void *      address = nullptr;
  const std::size_t before = MappedTensorBytes();
  {
    const torch::Tensor huge = TensorOfBytes(100 * kMiB); // a region of its own
    address = huge.data_ptr();
    ASSERT_NE(MappingFlags(address), "");
  }
  EXPECT_GE(MappedTensorBytes(), before + 100 * kMiB);
  ReleaseUnusedTensorMemory();
  EXPECT_EQ(MappingFlags(address), "");
  EXPECT_LE(MappedTensorBytes(), before);
}

TEST_F(TensorMemory, TensorsNeverOverlap)
{
  // Random sizes from 1 to 40 MiB, random frees; each tensor filled with its own number must keep it.
  std::mt19937                                 random(3);
  std::uniform_int_distribution<int64_t>       size(kMiB, 40 * kMiB);
  std::vector<std::pair<torch::Tensor, float>> live;
  for (int i = 0; i < 300; ++i)
  {
    live.emplace_back(TensorOfBytes(size(random) / 4 * 4).fill_(static_cast<float>(i)), static_cast<float>(i));
    if (live.size() > 12)
    {
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(random() % live.size()));
    }
  }
  for (const auto & [tensor, value] : live)
  {
    EXPECT_EQ(tensor.min().item<float>(), value);
    EXPECT_EQ(tensor.max().item<float>(), value);
  }
}

TEST(TensorMemoryInstalledLate, MemoryAllocatedBeforeGoesBackToItsOwnAllocator)
{
  // oneDNN allocates and frees through whichever CPU allocator is current (raw_allocate, raw_deallocate), so memory
  // it took before the installation comes back through this allocator's deleter, which must pass it on.
  unsetenv("FOCUSNET_KEEP_TENSOR_MEMORY");
  if (MappedTensorBytes() > 0)
  {
    GTEST_SKIP() << "installed by an earlier test in this process; ctest runs this test alone";
  }
  void * before = c10::GetCPUAllocator()->raw_allocate(8 * kMiB);
  EXPECT_EQ(MappingFlags(before).find(" hg "), std::string::npos);
  KeepLargeTensorMemory();
  void * after = c10::GetCPUAllocator()->raw_allocate(8 * kMiB);
  EXPECT_NE(MappingFlags(after).find(" hg "), std::string::npos);
  c10::GetCPUAllocator()->raw_deallocate(before); // the previous allocator's free (AddressSanitizer checks it)
  c10::GetCPUAllocator()->raw_deallocate(after);
  const std::size_t mapped = MappedTensorBytes();
  EXPECT_EQ(c10::GetCPUAllocator()->raw_allocate(8 * kMiB), after); // after's span was put back
  EXPECT_EQ(MappedTensorBytes(), mapped);
}

} // namespace
