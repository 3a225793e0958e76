/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetCommandLineMain_h
#define focusnetCommandLineMain_h

#include "itkObject.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace focusnet
{

/** The body of a FocusNet command's main(): runs `run` and turns any exception into one line on stderr,
 * "NAME: error: MESSAGE", and exit code 1. The messages already name the file and the problem. */
inline int
RunCommandLine(const char * name, int (*run)(int, char **), int argc, char ** argv)
{
  // Problems are reported as errors; ITK's warnings (e.g. "No Series were found") would only repeat them.
  itk::Object::GlobalWarningDisplayOff();
  try
  {
    return run(argc, argv);
  }
  catch (const std::exception & e)
  {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << name << ": error: " << message << std::endl;
    return EXIT_FAILURE;
  }
}

} // namespace focusnet

#endif
