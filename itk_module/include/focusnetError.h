/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetError_h
#define focusnetError_h

#include <stdexcept>
#include <string>

namespace focusnet
{

/** The one exception type of the core. Messages name the file or option and what is wrong. */
class Error : public std::runtime_error
{
public:
  using std::runtime_error::runtime_error;
};

} // namespace focusnet

#endif
