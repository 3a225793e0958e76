/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Fuzz target: a model file (.fnm). Either focusnet::Error naming the file, or a model whose metadata is valid.

#include "focusnetError.h"
#include "focusnetFuzzTarget.h"
#include "focusnetModel.h"

#include <cstdlib>

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t * data, std::size_t size)
{
  const std::string path = focusnet::fuzz::WriteInput(data, size, "model.fnm");
  try
  {
    const focusnet::Model model = focusnet::Model::Load(path);
    focusnet::Validate(model.Metadata());
  }
  catch (const focusnet::Error & e)
  {
    if (std::string(e.what()).rfind(path + ": ", 0) != 0)
    {
      std::abort(); // every error names the file first
    }
  }
  return 0;
}
