/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Fuzz target: a model file's metadata JSON. Either focusnet::Error, or metadata that passes Validate and reads back
// equal from its own JSON.

#include "focusnetError.h"
#include "focusnetFuzzTarget.h"
#include "focusnetModelMetadata.h"

#include <cstdlib>

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t * data, std::size_t size)
{
  const std::string       text(reinterpret_cast<const char *>(data), size);
  focusnet::ModelMetadata metadata;
  try
  {
    metadata = focusnet::ModelMetadataFromJson(text);
  }
  catch (const focusnet::Error &)
  {
    return 0;
  }
  focusnet::Validate(metadata);
  if (focusnet::ToJson(focusnet::ModelMetadataFromJson(focusnet::ToJson(metadata))) != focusnet::ToJson(metadata))
  {
    std::abort(); // the JSON of what was read does not read back as the same metadata
  }
  return 0;
}
