/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef FocusNetSegmentationCommandLine_h
#define FocusNetSegmentationCommandLine_h

// The command line of the CLI module FocusNetSegmentation, parsed apart from running it (fuzz/ feeds it arbitrary
// command lines).

#include "focusnetSegmentation.h"

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace focusnet::slicer
{

/** What a FocusNetSegmentation command line asks for. */
struct SegmentationRequest
{
  std::string                                      inputVolume;
  std::string                                      outputLabelVolume;
  std::string                                      modelFile; ///< empty: the installed default model
  SegmentationOptions                              options;   ///< everything but progress
  std::string                                      returnParameterFile;
  std::vector<std::pair<std::string, std::string>> echo; ///< the parameters as parsed, when --echo was given
};

/** Parses the command line Slicer builds from FocusNetSegmentation.xml, with options made from that description
 * (flags, types, ranges, enumerations). Returns the request; or nothing when CLI11 answered the command line itself
 * (--help, --version, a usage error), having written its message to out or err and set exitCode. */
std::optional<SegmentationRequest>
ParseCommandLine(int argc, const char * const * argv, int & exitCode, std::ostream & out, std::ostream & err);

} // namespace focusnet::slicer

#endif
