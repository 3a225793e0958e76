/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetTensorMemory.h"

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

// LibTorch 2.3 made c10::Allocator::allocate non-const and added copy_data; Debian's is 1.13, GPU machines' newer.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#  define FOCUSNET_ALLOCATE_CONST
#  define FOCUSNET_ALLOCATOR_COPIES_DATA 1
#else
#  define FOCUSNET_ALLOCATE_CONST const
#  define FOCUSNET_ALLOCATOR_COPIES_DATA 0
#endif

namespace focusnet
{
namespace
{
constexpr std::size_t kLargeBytes = std::size_t{ 1 } << 20;   ///< smaller tensors go to the previous allocator
constexpr std::size_t kGranule = std::size_t{ 64 } << 10;     ///< tensors are carved in multiples of this
constexpr std::size_t kHugePage = std::size_t{ 2 } << 20;     ///< x86-64's transparent huge page
constexpr std::size_t kRegionBytes = std::size_t{ 64 } << 20; ///< mapped at a time (larger tensors: their size)

std::size_t
RoundUp(std::size_t bytes, std::size_t multiple)
{
  return (bytes + multiple - 1) / multiple * multiple;
}

/** A c10::Allocator carving tensors of kLargeBytes and more out of huge-page regions it maps and keeps, best-fit,
 * merging free neighbours within a region. Its pointers are their own context, so raw_allocate works (oneDNN
 * allocates its scratchpads and reordered weights that way), and its deleter hands pointers it did not carve to
 * the previous allocator's deleter: memory allocated before it was installed is freed through the current one. */
class LargeTensorAllocator final : public c10::Allocator
{
public:
  explicit LargeTensorAllocator(c10::Allocator * previous)
    : m_Previous(previous)
    , m_PreviousDeleter(previous->raw_deleter())
  {
  }

  c10::DataPtr
  allocate(std::size_t bytes) FOCUSNET_ALLOCATE_CONST override
  {
    if (bytes < kLargeBytes)
    {
      return m_Previous->allocate(bytes);
    }
    char * data = Carve(RoundUp(bytes, kGranule));
    if (data == nullptr)
    {
      return m_Previous->allocate(bytes); // no address space left: the previous allocator reports it its way
    }
    return { data, data, &Delete, c10::Device(c10::DeviceType::CPU) };
  }

  c10::DeleterFnPtr
  raw_deleter() const override
  {
    return &Delete;
  }

#if FOCUSNET_ALLOCATOR_COPIES_DATA
  void
  copy_data(void * destination, const void * source, std::size_t count) const override
  {
    std::memcpy(destination, source, count);
  }
#endif

  void
  ReleaseUnused()
  {
    const std::lock_guard<std::mutex> lock(m_Mutex);
    for (auto region = m_Regions.begin(); region != m_Regions.end();)
    {
      const auto span = m_FreeByAddress.find(region->first);
      if (span != m_FreeByAddress.end() && span->second == region->second)
      {
        RemoveFree(span);
        munmap(region->first, region->second);
        m_Mapped -= region->second;
        region = m_Regions.erase(region);
      }
      else
      {
        ++region;
      }
    }
  }

  std::size_t
  Mapped() const
  {
    const std::lock_guard<std::mutex> lock(m_Mutex);
    return m_Mapped;
  }

  static LargeTensorAllocator * Instance;

private:
  using Spans = std::map<char *, std::size_t>; ///< begin -> bytes

  /** size bytes from the smallest free span that holds them, mapping a new region when none does; nullptr when
   * the kernel refuses the mapping. */
  char *
  Carve(std::size_t size) const
  {
    const std::lock_guard<std::mutex> lock(m_Mutex);
    auto                              fit = m_FreeBySize.lower_bound({ size, nullptr });
    if (fit == m_FreeBySize.end())
    {
      const std::size_t regionSize = std::max(kRegionBytes, RoundUp(size, kHugePage));
      void *            region = mmap(nullptr, regionSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (region == MAP_FAILED)
      {
        return nullptr;
      }
      madvise(region, regionSize, MADV_HUGEPAGE); // advice: kernels without transparent huge pages ignore it
      m_Regions.emplace(static_cast<char *>(region), regionSize);
      m_Mapped += regionSize;
      fit = AddFree(static_cast<char *>(region), regionSize);
    }
    const auto [spanSize, begin] = *fit;
    RemoveFree(m_FreeByAddress.find(begin));
    if (spanSize > size)
    {
      AddFree(begin + size, spanSize - size);
    }
    m_Live.emplace(begin, size);
    return begin;
  }

  static void
  Delete(void * data)
  {
    if (!Instance->Return(static_cast<char *>(data)))
    {
      Instance->m_PreviousDeleter(data);
    }
  }

  /** Puts a carved tensor's span back, merged with the free spans beside it in its region; false when the pointer
   * is not one this allocator carved. */
  bool
  Return(char * data) const
  {
    const std::lock_guard<std::mutex> lock(m_Mutex);
    const auto                        live = m_Live.find(data);
    if (live == m_Live.end())
    {
      return false;
    }
    char *      begin = data;
    std::size_t size = live->second;
    m_Live.erase(live);
    const auto region = std::prev(m_Regions.upper_bound(begin));
    const auto next = m_FreeByAddress.find(begin + size);
    if (next != m_FreeByAddress.end() && begin + size < region->first + region->second)
    {
      size += next->second;
      RemoveFree(next);
    }
    auto previous = m_FreeByAddress.lower_bound(begin);
    if (previous != m_FreeByAddress.begin() && (--previous)->first >= region->first &&
        previous->first + previous->second == begin)
    {
      begin = previous->first;
      size += previous->second;
      RemoveFree(previous);
    }
    AddFree(begin, size);
    return true;
  }

  std::set<std::pair<std::size_t, char *>>::iterator
  AddFree(char * begin, std::size_t size) const
  {
    m_FreeByAddress.emplace(begin, size);
    return m_FreeBySize.emplace(size, begin).first;
  }

  void
  RemoveFree(Spans::iterator span) const
  {
    m_FreeBySize.erase({ span->second, span->first });
    m_FreeByAddress.erase(span);
  }

  c10::Allocator *                                 m_Previous;
  c10::DeleterFnPtr                                m_PreviousDeleter;
  mutable std::mutex                               m_Mutex;
  mutable Spans                                    m_Regions;       ///< every mapping
  mutable Spans                                    m_FreeByAddress; ///< free spans, to merge neighbours
  mutable std::set<std::pair<std::size_t, char *>> m_FreeBySize;    ///< the same spans, to find the best fit
  mutable std::unordered_map<char *, std::size_t>  m_Live;          ///< carved spans in use
  mutable std::size_t                              m_Mapped{ 0 };
};

LargeTensorAllocator * LargeTensorAllocator::Instance = nullptr;
} // namespace

void
KeepLargeTensorMemory()
{
  static std::once_flag once;
  std::call_once(once,
                 []
                 {
                   const char *     disabled = std::getenv("FOCUSNET_KEEP_TENSOR_MEMORY");
                   c10::Allocator * previous = c10::GetCPUAllocator();
                   if ((disabled != nullptr && std::string(disabled) == "0") || previous->raw_deleter() == nullptr)
                   {
                     return; // switched off, or a host program's allocator that could not take foreign pointers back
                   }
                   // Never destroyed: tensors may still be freed during static destruction.
                   LargeTensorAllocator::Instance = new LargeTensorAllocator(previous);
                   c10::SetCPUAllocator(LargeTensorAllocator::Instance, /*priority=*/1);
                 });
}

void
ReleaseUnusedTensorMemory()
{
  if (LargeTensorAllocator::Instance != nullptr)
  {
    LargeTensorAllocator::Instance->ReleaseUnused();
  }
}

std::size_t
MappedTensorBytes()
{
  return LargeTensorAllocator::Instance != nullptr ? LargeTensorAllocator::Instance->Mapped() : 0;
}

} // namespace focusnet
