/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetAtomicFile.h"

#include "focusnetError.h"

#include <atomic>
#include <fstream>
#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace focusnet
{
namespace fs = std::filesystem;

std::string
FullExtension(const std::string & fileName)
{
  const fs::path name = fs::path(fileName).filename();
  std::string    extension = name.extension().string();
  if (extension == ".gz")
  {
    extension = name.stem().extension().string() + extension;
  }
  return extension;
}

void
CheckOutputFile(const std::string & fileName, bool overwrite, const std::string & input)
{
  std::error_code error;
  const fs::path  target(fileName);
  const fs::path  folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, error))
  {
    throw Error(fileName + ": the output folder " + folder.string() + " does not exist");
  }
  if (fs::exists(target, error))
  {
    if (!input.empty() && fs::equivalent(target, input, error))
    {
      throw Error(fileName + ": the output would replace the input");
    }
    if (!overwrite)
    {
      throw Error(fileName + ": exists and is not replaced unless asked", Error::Remedy::AllowOverwrite);
    }
  }
}

void
WriteAtomically(const std::string & fileName, const std::function<void(const std::string &)> & write)
{
  static std::atomic<unsigned> counter{ 0 };
  const fs::path               target(fileName);
  const fs::path               folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder))
  {
    throw Error(fileName + ": the output folder " + folder.string() + " does not exist");
  }
  const std::string extension = FullExtension(fileName);
  std::string       stem = target.filename().string();
  stem = stem.substr(0, stem.size() - extension.size());
  const fs::path temporary =
    folder / ("." + stem + ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + extension);
  try
  {
    write(temporary.string());
    fs::rename(temporary, target);
  }
  catch (...)
  {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
}

void
WriteTextAtomically(const std::string & fileName, const std::string & text)
{
  WriteAtomically(fileName,
                  [&](const std::string & temporary)
                  {
                    std::ofstream file(temporary, std::ios::trunc);
                    file << text;
                    file.close();
                    if (!file)
                    {
                      throw Error(fileName + ": cannot write");
                    }
                  });
}

} // namespace focusnet
