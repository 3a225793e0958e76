/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetCommandLineMain_h
#define focusnetCommandLineMain_h

#include "focusnetError.h"
#include "itkObject.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace focusnet
{

/** The command-line flag that gets past an error, in the words the commands share; empty when there is none. */
inline std::string
FlagFor(Error::Remedy remedy)
{
  switch (remedy)
  {
    case Error::Remedy::AllowOverwrite:
      return "; pass --overwrite to replace it";
    case Error::Remedy::ChooseSeries:
      return "; choose one with --series-uid";
    case Error::Remedy::Resume:
      return "; pass --resume to continue it";
    case Error::Remedy::ChooseModel:
      return "; pass --model FILE (make one with: focusnet init focusnet model.fnm)";
    case Error::Remedy::None:
      break;
  }
  return {};
}

inline void
ReportError(const char * name, std::string message)
{
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::cerr << name << ": error: " << message << std::endl;
}

/** The body of a FocusNet command's main(): runs `run` and turns any exception into one line on stderr,
 * "NAME: error: MESSAGE", and exit code 1. The messages already name the file and the problem; this adds the flag
 * that gets past it, where there is one. */
inline int
RunCommandLine(const char * name, int (*run)(int, char **), int argc, char ** argv)
{
  // Problems are reported as errors; ITK's warnings (e.g. "No Series were found") would only repeat them.
  itk::Object::GlobalWarningDisplayOff();
  try
  {
    return run(argc, argv);
  }
  catch (const Error & e)
  {
    ReportError(name, e.what() + FlagFor(e.GetRemedy()));
  }
  catch (const std::exception & e)
  {
    ReportError(name, e.what());
  }
  return EXIT_FAILURE;
}

} // namespace focusnet

#endif
