/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetAtomicFile.h"

#include "focusnetError.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <system_error>
#include <sys/statvfs.h>
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
  if (::access(folder.c_str(), W_OK) != 0)
  {
    throw Error(fileName + ": the output folder " + folder.string() + " is not writable (" + std::strerror(errno) +
                ")");
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

namespace
{
/** Throws focusnet::Error naming fileName when the file system holding folder is full. Most image writers (ITK's
 * NRRD, NIfTI, PNG and TIFF) do not report a write that ran out of space: they leave a short file and succeed. A
 * file system with less than FullBelow bytes left for this user is taken as full, before writing (nothing is
 * started) and after (the file may have been cut short, so it is not kept). */
void
CheckSpaceLeft(const std::string & fileName, const fs::path & folder)
{
  constexpr unsigned long long FullBelow = 1 << 20;
  struct statvfs               space
  {
  };
  if (::statvfs(folder.c_str(), &space) != 0)
  {
    return; // not knowable here; the writer's own checks remain
  }
  // Root may use the blocks a file system reserves; other users may not.
  const unsigned long long blocks = ::geteuid() == 0 ? space.f_bfree : space.f_bavail;
  if (blocks * space.f_frsize < FullBelow)
  {
    throw Error(fileName + ": the disk is full (" + std::to_string(blocks * space.f_frsize / 1024) + " KiB left in " +
                folder.string() + "); nothing was written");
  }
}
} // namespace

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
  CheckSpaceLeft(fileName, folder);
  try
  {
    write(temporary.string());
    CheckSpaceLeft(fileName, folder);
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
RemovePartialFiles(const std::string & folder)
{
  std::error_code error;
  for (const auto & entry : fs::directory_iterator(folder, error))
  {
    const std::string name = entry.path().filename().string();
    if (name.front() == '.' && name.find(".partial-") != std::string::npos)
    {
      fs::remove(entry.path(), error);
    }
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
