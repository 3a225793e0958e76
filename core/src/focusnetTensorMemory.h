/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetTensorMemory_h
#define focusnetTensorMemory_h

// Internal: where LibTorch's CPU tensors get their memory.

#include <cstddef>

namespace focusnet
{

/** Serves LibTorch's large CPU tensors (1 MiB and more) from huge-page memory kept for reuse, from now on in this
 * process; later calls do nothing. Smaller tensors keep going to the allocator that was there (tcmalloc or glibc).
 *
 * A network's activations are tens of MiB each, allocated and freed many times a batch. In 4 KiB pages they cost a
 * TLB entry per page in every convolution and, where memory is fresh, a page fault per page (on the VMs measured the
 * first batch took 4-5x as long as the next ones). This allocator maps 64 MiB regions, asks for transparent huge
 * pages (MADV_HUGEPAGE: 2 MiB pages where the kernel allows it, in "madvise" or "always" mode), and carves tensors
 * out of them best-fit, merging neighbours when freed, so a batch's working set is touched once and reused.
 * FOCUSNET_KEEP_TENSOR_MEMORY=0 in the environment leaves LibTorch's allocator alone (to compare, or as a way out). */
void
KeepLargeTensorMemory();

/** Gives the regions no tensor uses back to the kernel. The engine calls it when destroyed. */
void
ReleaseUnusedTensorMemory();

/** Bytes mapped for large tensors now, in use or kept (0 before KeepLargeTensorMemory). */
std::size_t
MappedTensorBytes();

} // namespace focusnet

#endif
