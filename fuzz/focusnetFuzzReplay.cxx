/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Runs a fuzz target once on each file of the given folders (the corpus kept in fuzz/corpus/), as ctest does in the
// ordinary build: what fuzzing found must keep passing. Exits non-zero when a folder is empty or missing.

#include "focusnetFuzzTarget.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <vector>

int
main(int argc, char ** argv)
{
  namespace fs = std::filesystem;
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i)
  {
    std::vector<fs::path> files;
    std::error_code       error;
    for (const auto & entry : fs::directory_iterator(argv[i], error))
    {
      if (entry.is_regular_file())
      {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path & file : files)
    {
      std::ifstream                   stream(file, std::ios::binary);
      const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++count;
    }
  }
  std::cout << count << " inputs replayed\n";
  return count > 0 ? 0 : 1;
}
