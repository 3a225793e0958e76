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

/** The one exception type of the libraries. Messages name the file or option and what is wrong; they never name a
 * command-line flag. Where the caller can get past the error by asking for something, Remedy says what, and each
 * front door words it its own way (`--overwrite` on the command line, `overwrite=True` in Python). */
class Error : public std::runtime_error
{
public:
  enum class Remedy
  {
    None,
    AllowOverwrite, ///< an output exists; replacing it was not allowed
    ChooseSeries,   ///< a folder holds several DICOM series; none was chosen by SeriesInstanceUID
    Resume,         ///< a training run is already in the output folder; resuming it was not asked for
    ChooseModel     ///< no model was named and no default model is installed
  };

  explicit Error(const std::string & message, Remedy remedy = Remedy::None)
    : std::runtime_error(message)
    , m_Remedy(remedy)
  {
  }

  Remedy
  GetRemedy() const
  {
    return m_Remedy;
  }

private:
  Remedy m_Remedy;
};

} // namespace focusnet

#endif
