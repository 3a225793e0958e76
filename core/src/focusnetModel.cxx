/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetModelImpl.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"
#include "focusnetTensorOps.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstring>
#include <fstream>
#include <iterator>

// The file stores little-endian values; like LibTorch's own serialisation we assume a little-endian host.
static_assert(sizeof(float) == 4, "model files store IEEE float32");

namespace focusnet
{
namespace
{
using nlohmann::json;

constexpr std::array<char, 8> Magic{ { 'F', 'O', 'C', 'U', 'S', 'N', 'E', 'T' } };
constexpr size_t              PreambleBytes = Magic.size() + sizeof(std::uint32_t) + sizeof(std::uint64_t);

std::uint32_t
Crc32(const char * data, size_t size)
{
  static const auto table = []
  {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i)
    {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
      {
        c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
      }
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFU;
  for (size_t i = 0; i < size; ++i)
  {
    crc = table[(crc ^ static_cast<unsigned char>(data[i])) & 0xFFU] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFU;
}

std::string
DTypeName(const torch::Tensor & t)
{
  if (t.scalar_type() == torch::kFloat32)
  {
    return "float32";
  }
  if (t.scalar_type() == torch::kInt64)
  {
    return "int64";
  }
  throw Error("cannot store tensor of type " + std::string(c10::toString(t.scalar_type())));
}

/** The weights laid out as in the file: the tensor table and the payload bytes. */
struct Payload
{
  json        table = json::array();
  std::string bytes;
};

Payload
Serialize(const torch::nn::Module & network)
{
  Payload payload;
  for (const auto & [name, value] : NamedState(network))
  {
    const torch::Tensor t = value.detach().to(torch::kCPU).contiguous();
    const size_t        size = t.numel() * t.element_size();
    payload.table.push_back({ { "name", name },
                              { "dtype", DTypeName(t) },
                              { "shape", t.sizes().vec() },
                              { "offset", payload.bytes.size() },
                              { "bytes", size } });
    payload.bytes.append(static_cast<const char *>(t.data_ptr()), size);
  }
  return payload;
}

template <typename T>
T
ReadLittleEndian(const std::string & data, size_t offset)
{
  T value;
  std::memcpy(&value, data.data() + offset, sizeof(T));
  return value;
}

} // namespace

std::vector<std::pair<std::string, torch::Tensor>>
NamedState(const torch::nn::Module & network)
{
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto & item : network.named_parameters(/*recurse=*/true))
  {
    state.emplace_back(item.key(), item.value());
  }
  for (const auto & item : network.named_buffers(/*recurse=*/true))
  {
    state.emplace_back(item.key(), item.value());
  }
  return state;
}

void
CopyState(const torch::nn::Module & from, torch::nn::Module & to)
{
  torch::NoGradGuard noGrad;
  auto               source = NamedState(from);
  auto               target = NamedState(to);
  if (source.size() != target.size())
  {
    throw Error("cannot copy weights between networks of different architectures");
  }
  for (size_t i = 0; i < source.size(); ++i)
  {
    target[i].second.copy_(source[i].second);
  }
}

Model::Model(std::unique_ptr<Impl> impl)
  : m_Impl(std::move(impl))
{
}
Model::Model(Model &&) noexcept = default;
Model &
Model::operator=(Model &&) noexcept = default;
Model::~Model() = default;

Model
Model::Create(const ModelMetadata & metadata, std::uint64_t seed)
{
  Validate(metadata);
  auto impl = std::make_unique<Impl>();
  impl->metadata = metadata;
  {
    // LibTorch's initialisers draw from its global generator: seed it for these weights, then give the caller's
    // random stream back as it was.
    const ScopedGlobalSeed scopedSeed(seed);
    impl->network = nn::BuildNetwork(metadata.architecture);
  }
  impl->network->eval();
  return Model(std::move(impl));
}

Model
Model::Load(const std::string & fileName)
{
  std::ifstream file(fileName, std::ios::binary);
  if (!file)
  {
    throw Error(fileName + ": cannot open model file (" + std::strerror(errno) + ")");
  }
  const std::string data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto              fail = [&](const std::string & what) { throw Error(fileName + ": " + what); };

  if (data.size() < Magic.size() || std::memcmp(data.data(), Magic.data(), Magic.size()) != 0)
  {
    fail("not a FocusNet model file (no FOCUSNET signature)");
  }
  if (data.size() < PreambleBytes)
  {
    fail("truncated model file (" + std::to_string(data.size()) + " bytes)");
  }
  const auto version = ReadLittleEndian<std::uint32_t>(data, Magic.size());
  if (version > FileFormatVersion || version == 0)
  {
    fail("model file format version " + std::to_string(version) + " is newer than this build reads (" +
         std::to_string(FileFormatVersion) + "); update FocusNet");
  }
  const auto headerBytes = ReadLittleEndian<std::uint64_t>(data, Magic.size() + sizeof(std::uint32_t));
  if (headerBytes > data.size() - PreambleBytes)
  {
    fail("truncated model file (header runs past the end of the file)");
  }
  json header;
  try
  {
    header = json::parse(data.substr(PreambleBytes, headerBytes));
  }
  catch (const json::exception &)
  {
    fail("corrupt model file (unreadable header)");
  }

  auto impl = std::make_unique<Impl>();
  try
  {
    // The metadata's checksum (files written since it was added): a flipped letter in a key would otherwise fall
    // back to a default without a word.
    const std::string metadataText = header.at("metadata").dump();
    if (header.contains("metadata_crc32") &&
        Crc32(metadataText.data(), metadataText.size()) != header.at("metadata_crc32").get<std::uint32_t>())
    {
      throw Error("corrupt model file (metadata checksum mismatch)");
    }
    impl->metadata = ModelMetadataFromJson(metadataText);
  }
  catch (const std::exception & e)
  {
    fail(e.what());
  }
  // A header that is JSON but not a model file's (a key missing, a value of the wrong type) is reported with the
  // file's name like every other problem.
  try
  {
    const size_t payloadStart = PreambleBytes + headerBytes;
    const auto   payloadBytes = header.value("payload_bytes", std::uint64_t{ 0 });
    if (data.size() - payloadStart < payloadBytes)
    {
      fail("truncated model file (" + std::to_string(data.size() - payloadStart) + " of " +
           std::to_string(payloadBytes) + " weight bytes)");
    }
    if (data.size() - payloadStart > payloadBytes)
    {
      fail("corrupt model file (unexpected bytes after the weights)");
    }
    if (Crc32(data.data() + payloadStart, payloadBytes) != header.value("payload_crc32", std::uint32_t{ 0 }))
    {
      fail("corrupt model file (weights checksum mismatch)");
    }

    impl->network = nn::BuildNetwork(impl->metadata.architecture);
    auto         state = NamedState(*impl->network);
    const json & table = header.at("tensors");
    if (table.size() != state.size())
    {
      fail("weights do not match the architecture (" + std::to_string(table.size()) + " tensors, expected " +
           std::to_string(state.size()) + ")");
    }
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < state.size(); ++i)
    {
      const json &    entry = table[i];
      torch::Tensor & target = state[i].second;
      const auto      shape = entry.at("shape").get<std::vector<int64_t>>();
      const auto      offset = entry.at("offset").get<std::uint64_t>();
      const auto      bytes = entry.at("bytes").get<std::uint64_t>();
      if (entry.at("name") != state[i].first || shape != target.sizes().vec() ||
          entry.at("dtype") != DTypeName(target) ||
          bytes != static_cast<std::uint64_t>(target.numel() * target.element_size()) || offset + bytes > payloadBytes)
      {
        fail("weights do not match the architecture at tensor " + entry.at("name").dump());
      }
      std::memcpy(target.data_ptr(), data.data() + payloadStart + offset, bytes);
    }
  }
  catch (const json::exception & e)
  {
    fail(std::string("corrupt model file (header: ") + e.what() + ")");
  }
  impl->network->eval();
  return Model(std::move(impl));
}

void
Model::Save(const std::string & fileName) const
{
  const Payload     payload = Serialize(*m_Impl->network);
  const json        metadata = json::parse(ToJson(m_Impl->metadata));
  const std::string metadataText = metadata.dump();
  const json        header = { { "metadata", metadata },
                               { "metadata_crc32", Crc32(metadataText.data(), metadataText.size()) },
                               { "tensors", payload.table },
                               { "payload_bytes", payload.bytes.size() },
                               { "payload_crc32", Crc32(payload.bytes.data(), payload.bytes.size()) } };
  const std::string headerText = header.dump();

  WriteAtomically(fileName,
                  [&](const std::string & temporary)
                  {
                    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
                    const auto    version = FileFormatVersion;
                    const auto    headerBytes = static_cast<std::uint64_t>(headerText.size());
                    file.write(Magic.data(), Magic.size());
                    file.write(reinterpret_cast<const char *>(&version), sizeof(version));
                    file.write(reinterpret_cast<const char *>(&headerBytes), sizeof(headerBytes));
                    file.write(headerText.data(), static_cast<std::streamsize>(headerText.size()));
                    file.write(payload.bytes.data(), static_cast<std::streamsize>(payload.bytes.size()));
                    file.close();
                    if (!file)
                    {
                      throw Error(fileName + ": cannot write model file");
                    }
                  });
}

const ModelMetadata &
Model::Metadata() const
{
  return m_Impl->metadata;
}

namespace
{
/** metadata with field set to value, when the result is valid (Validate throws otherwise, leaving it as it was). */
template <typename T>
void
SetValidated(ModelMetadata & metadata, T ModelMetadata::*field, const T & value)
{
  ModelMetadata changed = metadata;
  changed.*field = value;
  Validate(changed);
  metadata = std::move(changed);
}
} // namespace

void
Model::SetQualityReference(const QualityReference & reference)
{
  SetValidated(m_Impl->metadata, &ModelMetadata::quality, reference);
}

void
Model::SetCleanUp(const CleanUp & recipe)
{
  SetValidated(m_Impl->metadata, &ModelMetadata::cleanUp, recipe);
}

std::int64_t
Model::ParameterCount() const
{
  std::int64_t count = 0;
  for (const auto & p : m_Impl->network->parameters())
  {
    count += p.numel();
  }
  return count;
}

std::int64_t
Model::MultiplyAccumulatesPerSlice() const
{
  // Every layer's output positions scale with the square of the input size, so a forward pass at the
  // smallest valid size (16) scaled up is exact and costs microseconds instead of seconds.
  constexpr int64_t probe = 16;
  const int64_t     size = m_Impl->metadata.inputSize;
  auto              network = nn::BuildNetwork(m_Impl->metadata.architecture);
  network->eval();
  {
    torch::NoGradGuard noGrad;
    network->forward(torch::zeros({ 1, m_Impl->metadata.architecture.inputChannels, probe, probe }));
  }
  std::int64_t convolutions = 0;
  std::int64_t linear = 0; // squeeze-and-excitation: independent of the input size
  for (const auto & module : network->modules(/*include_self=*/false))
  {
    if (const auto * conv = module->as<nn::ConvLayerImpl>())
    {
      convolutions += conv->conv->weight.numel() * conv->lastOutputPositions;
    }
    else if (const auto * dense = module->as<torch::nn::LinearImpl>())
    {
      linear += dense->weight.numel();
    }
  }
  return convolutions * (size / probe) * (size / probe) + linear;
}

std::uint32_t
Model::WeightsChecksum() const
{
  const Payload payload = Serialize(*m_Impl->network);
  return Crc32(payload.bytes.data(), payload.bytes.size());
}

} // namespace focusnet
