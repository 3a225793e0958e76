/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetImageFileChecks.h"

#include "focusnetError.h"
#include "focusnetImageIO.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace focusnet
{
namespace fs = std::filesystem;

std::uint64_t
MaximumVoxels()
{
  constexpr std::uint64_t fallback = std::uint64_t{ 1 } << 30;
  const char *            text = std::getenv("FOCUSNET_MAX_VOXELS");
  if (text == nullptr || *text == '\0')
  {
    return fallback;
  }
  char *     end = nullptr;
  const auto value = std::strtoull(text, &end, 10);
  if (*end != '\0' || value == 0 || text[0] == '-')
  {
    throw Error(std::string("FOCUSNET_MAX_VOXELS: '") + text + "' is not a positive whole number of voxels");
  }
  return value;
}

void
CheckDeclaredSize(const std::string & path, const std::vector<std::size_t> & size, unsigned int components)
{
  // Multiplied in floating point: a header may declare sizes whose product overflows 64 bits.
  long double voxels = components;
  std::string shape;
  for (const std::size_t s : size)
  {
    voxels *= static_cast<long double>(s);
    shape += (shape.empty() ? "" : " x ") + std::to_string(s);
  }
  const std::uint64_t limit = MaximumVoxels();
  if (voxels > static_cast<long double>(limit))
  {
    std::ostringstream text;
    text << path << ": the header declares " << shape << (components > 1 ? " pixels of " : " pixels")
         << (components > 1 ? std::to_string(components) + " components" : "") << ", more than the " << limit
         << " values FocusNet reads at most (raise the limit with FOCUSNET_MAX_VOXELS)";
    throw Error(text.str());
  }
}

namespace
{
[[noreturn]] void
ThrowCutShort(const std::string & fileName, std::uint64_t has, std::uint64_t needs, const std::string & what)
{
  throw Error(fileName + ": the file is cut short: " + std::to_string(has) + " of the " + std::to_string(needs) + " " +
              what + " its header declares");
}

std::uint64_t
FileBytes(const std::string & fileName)
{
  std::error_code error;
  const auto      bytes = fs::file_size(fileName, error);
  return error ? 0 : static_cast<std::uint64_t>(bytes);
}

/** The bytes of a file gzip-decompressed (or as is when it is not gzip), read up to `needs` at most; sets cutShort
 * when the compressed stream ends early. */
std::uint64_t
DecompressedBytes(const std::string & fileName, std::uint64_t needs, bool & cutShort)
{
  cutShort = false;
  gzFile file = gzopen(fileName.c_str(), "rb");
  if (file == nullptr)
  {
    return 0;
  }
  gzbuffer(file, 1 << 17);
  std::vector<char> buffer(1 << 20);
  std::uint64_t     total = 0;
  while (total < needs)
  {
    const int got = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
    if (got <= 0)
    {
      int code = Z_OK;
      gzerror(file, &code);
      cutShort = got < 0 || code != Z_OK;
      break;
    }
    total += static_cast<std::uint64_t>(got);
  }
  gzclose(file);
  return total;
}

template <typename T>
T
Field(const std::array<unsigned char, 540> & header, std::size_t offset, bool swap)
{
  std::array<unsigned char, sizeof(T)> bytes{};
  std::memcpy(bytes.data(), header.data() + offset, sizeof(T));
  if (swap)
  {
    std::reverse(bytes.begin(), bytes.end());
  }
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

void
CheckNifti(const std::string & fileName, const std::string & extension, std::uint64_t imageBytes)
{
  std::array<unsigned char, 540> header{};
  gzFile                         file = gzopen(fileName.c_str(), "rb");
  if (file == nullptr)
  {
    return;
  }
  const int got = gzread(file, header.data(), static_cast<unsigned>(header.size()));
  gzclose(file);
  if (got < 348)
  {
    return; // the reader has already judged the header
  }
  const auto size = Field<std::int32_t>(header, 0, false);
  const bool swap = size != 348 && size != 540;
  const bool nifti2 = Field<std::int32_t>(header, 0, swap) == 540;
  const auto offset = nifti2 ? static_cast<double>(Field<std::int64_t>(header, 168, swap))
                             : static_cast<double>(Field<float>(header, 108, swap));
  if (extension == ".hdr")
  {
    // A header/image pair: the pixels are in the .img file beside it, from vox_offset on.
    fs::path            image = fs::path(fileName).replace_extension(".img");
    const std::uint64_t needs = static_cast<std::uint64_t>(std::max(0.0, offset)) + imageBytes;
    if (const std::uint64_t has = FileBytes(image.string()); has < needs)
    {
      ThrowCutShort(image.string(), has, needs, "bytes");
    }
    return;
  }
  const std::uint64_t needs = static_cast<std::uint64_t>(std::max(offset, nifti2 ? 544.0 : 352.0)) + imageBytes;
  if (extension == ".nii")
  {
    if (const std::uint64_t has = FileBytes(fileName); has < needs)
    {
      ThrowCutShort(fileName, has, needs, "bytes");
    }
    return;
  }
  // .nii.gz: gzip's trailer holds the decompressed size modulo 2^32; where it is not the size expected, the file is
  // decompressed to count (a file with bytes after its pixels, or written in several gzip members).
  std::ifstream stream(fileName, std::ios::binary);
  stream.seekg(-4, std::ios::end);
  std::array<unsigned char, 4> trailer{};
  stream.read(reinterpret_cast<char *>(trailer.data()), 4);
  const std::uint32_t modulo = trailer[0] | trailer[1] << 8 | trailer[2] << 16 | std::uint32_t{ trailer[3] } << 24;
  if (stream && modulo == static_cast<std::uint32_t>(needs))
  {
    return;
  }
  bool                cutShort = false;
  const std::uint64_t has = DecompressedBytes(fileName, needs, cutShort);
  if (has < needs)
  {
    ThrowCutShort(fileName, has, needs, "decompressed bytes");
  }
}

void
CheckMetaImage(const std::string & fileName, std::uint64_t imageBytes)
{
  std::ifstream file(fileName, std::ios::binary);
  std::string   line;
  bool          compressed = false;
  std::uint64_t compressedBytes = 0;
  long long     headerSize = 0;
  while (std::getline(file, line) && line.size() < 4096)
  {
    const auto equals = line.find('=');
    if (equals == std::string::npos)
    {
      return;
    }
    auto trim = [](std::string s)
    {
      s.erase(0, s.find_first_not_of(" \t\r"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
      return s;
    };
    const std::string key = trim(line.substr(0, equals));
    const std::string value = trim(line.substr(equals + 1));
    if (key == "CompressedData")
    {
      compressed = value == "True" || value == "true";
    }
    else if (key == "CompressedDataSize")
    {
      compressedBytes = std::strtoull(value.c_str(), nullptr, 10);
    }
    else if (key == "HeaderSize")
    {
      headerSize = std::strtoll(value.c_str(), nullptr, 10);
    }
    else if (key == "ElementDataFile")
    {
      const std::uint64_t needs = compressed ? compressedBytes : imageBytes;
      if (needs == 0)
      {
        return; // compressed without a declared size: zlib's own check remains
      }
      std::string   dataFile = fileName;
      std::uint64_t start = static_cast<std::uint64_t>(file.tellg());
      if (value != "LOCAL")
      {
        if (value == "LIST" || value.find_first_of(" %") != std::string::npos)
        {
          return; // slices in many files
        }
        dataFile = (fs::path(fileName).parent_path() / value).string();
        start = static_cast<std::uint64_t>(std::max(0LL, headerSize));
      }
      const std::uint64_t bytes = FileBytes(dataFile);
      if (const std::uint64_t has = bytes > start ? bytes - start : 0; has < needs)
      {
        ThrowCutShort(dataFile, has, needs, compressed ? "compressed bytes" : "bytes");
      }
      return;
    }
  }
}

void
CheckJpeg(const std::string & fileName)
{
  std::ifstream                    file(fileName, std::ios::binary);
  const std::vector<unsigned char> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // Walk the marker segments from the start-of-image marker to the first scan (skipping the ones an EXIF thumbnail
  // hides inside APP1), then look for the end-of-image marker: the scan's data never holds FF D9.
  std::size_t at = 2;
  while (at + 4 <= data.size())
  {
    if (data[at] != 0xFF)
    {
      return; // not a marker: leave the judgement to libjpeg
    }
    const unsigned char marker = data[at + 1];
    if (marker == 0xFF)
    {
      ++at; // fill byte
      continue;
    }
    if (marker == 0xDA)
    {
      for (std::size_t i = at + 2; i + 1 < data.size(); ++i)
      {
        if (data[i] == 0xFF && data[i + 1] == 0xD9)
        {
          return;
        }
      }
      throw Error(fileName + ": the file is cut short: the JPEG data has no end-of-image marker");
    }
    at += 2 + (std::size_t{ data[at + 2] } << 8 | data[at + 3]);
  }
  throw Error(fileName + ": the file is cut short: the JPEG data ends before its first scan");
}
} // namespace

void
CheckPixelDataComplete(const std::string & fileName, std::uint64_t imageBytes)
{
  const std::string extension = FormatExtension(fileName);
  if (extension == ".nii" || extension == ".nii.gz" || extension == ".hdr")
  {
    CheckNifti(fileName, extension, imageBytes);
  }
  else if (extension == ".mha" || extension == ".mhd")
  {
    CheckMetaImage(fileName, imageBytes);
  }
  else if (extension == ".jpg" || extension == ".jpeg")
  {
    CheckJpeg(fileName);
  }
}

} // namespace focusnet
