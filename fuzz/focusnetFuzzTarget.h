/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetFuzzTarget_h
#define focusnetFuzzTarget_h

// What every fuzz target shares: libFuzzer's entry point, and a file holding the input for the readers that take a
// path. Built with clang's -fsanitize=fuzzer by scripts/fuzz.sh, and, for ctest, with focusnetFuzzReplay.cxx's main
// that runs each file of the kept corpus once.

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <unistd.h>

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t * data, std::size_t size);

namespace focusnet::fuzz
{
/** A folder of this process's own under the temporary directory (created once). */
inline const std::string &
ScratchFolder()
{
  static const std::string folder = []
  {
    const char * base = std::getenv("TMPDIR");
    std::string  path =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/focusnet-fuzz-" + std::to_string(::getpid());
    std::string command = "mkdir -p '" + path + "'";
    if (std::system(command.c_str()) != 0)
    {
      std::abort();
    }
    return path;
  }();
  return folder;
}

/** Writes the input to name in ScratchFolder() and returns its path. */
inline std::string
WriteInput(const std::uint8_t * data, std::size_t size, const std::string & name)
{
  const std::string path = ScratchFolder() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
    .write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(size));
  return path;
}
} // namespace focusnet::fuzz

#endif
