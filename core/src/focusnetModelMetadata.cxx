/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetModelMetadata.h"

#include "focusnetError.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace focusnet
{
using nlohmann::json;

std::string
ToString(DropoutPlacement placement)
{
  switch (placement)
  {
    case DropoutPlacement::None:
      return "none";
    case DropoutPlacement::AttentionBottleneck:
      return "bottleneck";
    case DropoutPlacement::Throughout:
      return "throughout";
  }
  return "bottleneck";
}

DropoutPlacement
DropoutPlacementFromString(const std::string & name)
{
  for (auto placement : { DropoutPlacement::None, DropoutPlacement::AttentionBottleneck, DropoutPlacement::Throughout })
  {
    if (ToString(placement) == name)
    {
      return placement;
    }
  }
  throw Error("unknown dropout placement '" + name + "' (expected none, bottleneck or throughout)");
}

namespace
{
json
ToJson(const CodedConcept & code)
{
  return { { "value", code.value }, { "scheme", code.scheme }, { "meaning", code.meaning } };
}

} // namespace

std::string
ToJson(const ModelMetadata & m, int indent)
{
  const ArchitectureOptions & a = m.architecture;
  const Normalization &       n = m.normalization;
  json                        normalization;
  if (n.kind == Normalization::Kind::MeanStd)
  {
    normalization = { { "kind", "meanstd" }, { "mean", n.mean }, { "std", n.standardDeviation } };
  }
  else
  {
    normalization = { { "kind", "window" }, { "center", n.windowCenter }, { "width", n.windowWidth } };
  }
  json j = {
    { "architecture",
      { { "name", a.name },
        { "input_channels", a.inputChannels },
        { "width", a.width },
        { "attention_stem_width", a.attentionStemWidth },
        { "minimum_channels", a.minimumChannels },
        { "dropout_placement", ToString(a.dropoutPlacement) },
        { "dropout_rate", a.dropoutRate } } },
    { "input_size", m.inputSize },
    { "normalization", normalization },
    { "threshold", m.threshold },
    { "label",
      { { "name", m.label.name },
        { "value", m.label.value },
        { "color", m.label.color },
        { "category", ToJson(m.label.category) },
        { "type", ToJson(m.label.type) } } },
    { "provenance", json::parse(m.provenanceJson.empty() ? "{}" : m.provenanceJson) },
  };
  if (m.quality.present)
  {
    const QualityReference & q = m.quality;
    j["quality"] = { { "modality", q.modality },
                     { "intensity_quantiles", q.intensity },
                     { "label_fraction", { q.labelFractionLow, q.labelFractionHigh } },
                     { "limits",
                       { { "intensity_distance", q.intensityDistanceLimit },
                         { "mean_entropy_bits", q.meanEntropyLimit },
                         { "uncertain_outline_share", q.uncertainOutlineLimit },
                         { "stray_share", q.strayShareLimit } } },
                     { "method", q.method } };
    // Written only when set, so that a model file keeps the reference it was given (older ones have none of these).
    if (std::isfinite(q.inputNoiseLimit))
    {
      j["quality"]["limits"]["input_noise"] = q.inputNoiseLimit;
    }
    if (std::isfinite(q.flipDisagreementLimit))
    {
      j["quality"]["limits"]["flip_disagreement"] = q.flipDisagreementLimit;
    }
    if (std::isfinite(q.aspectHigh))
    {
      j["quality"]["input_aspect"] = { q.aspectLow, q.aspectHigh };
    }
  }
  if (m.cleanUp.Enabled())
  {
    j["clean_up"] = { { "keep_components", m.cleanUp.keepComponents }, { "fill_holes", m.cleanUp.fillHoles } };
  }
  return j.dump(indent);
}

namespace
{
/** value as T, named key in messages. Whole numbers must be JSON integers within T's range: nlohmann's get<int>()
 * casts a JSON float such as 1e98 to an integer, which is undefined behaviour (found by fuzzing the metadata). */
template <typename T>
T
As(const json & value, const std::string & key)
{
  auto fail = [&](const std::string & what)
  { throw Error("invalid model metadata: " + key + " is not " + what + " (" + value.dump() + ")"); };
  if constexpr (std::is_same_v<T, std::string>)
  {
    if (!value.is_string())
    {
      fail("a string");
    }
    return value.get<std::string>();
  }
  else if constexpr (std::is_integral_v<T>)
  {
    if (!value.is_number_integer())
    {
      fail("a whole number");
    }
    if (value.is_number_unsigned()
          ? value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<T>::max())
          : value.get<std::int64_t>() < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
              value.get<std::int64_t>() > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
    {
      fail("a whole number in range");
    }
    return static_cast<T>(value.is_number_unsigned() ? static_cast<std::int64_t>(value.get<std::uint64_t>())
                                                     : value.get<std::int64_t>());
  }
  else
  {
    if (!value.is_number())
    {
      fail("a number");
    }
    return value.get<T>();
  }
}

/** object[key] as T (see As); a missing key is reported by its name, or by name when given. */
template <typename T>
T
Get(const json & object, const char * key, const char * name = nullptr)
{
  if (!object.is_object() || !object.contains(key))
  {
    throw Error(std::string("invalid model metadata: ") + (name ? name : key) + " is missing");
  }
  return As<T>(object.at(key), name ? name : key);
}

/** object[key] as T, or fallback when the key is absent (keys added in later versions). */
template <typename T>
T
GetOr(const json & object, const char * key, const T & fallback)
{
  return object.is_object() && object.contains(key) ? As<T>(object.at(key), key) : fallback;
}

/** object[key] as a list of T, named as Get names it. */
template <typename T>
std::vector<T>
GetList(const json & object, const char * key, const char * name = nullptr)
{
  const std::string named = name ? name : key;
  const json &      list = object.is_object() && object.contains(key) ? object.at(key) : json();
  if (!list.is_array())
  {
    throw Error("invalid model metadata: " + named + " is not a list");
  }
  std::vector<T> values;
  for (const json & value : list)
  {
    values.push_back(As<T>(value, named));
  }
  return values;
}

CodedConcept
CodedConceptFromJson(const json & j)
{
  return { Get<std::string>(j, "value"), Get<std::string>(j, "scheme"), Get<std::string>(j, "meaning") };
}
} // namespace

ModelMetadata
ModelMetadataFromJson(const std::string & text)
{
  try
  {
    const json    j = json::parse(text);
    ModelMetadata m;
    const json &  a = j.at("architecture");
    m.architecture.name = Get<std::string>(a, "name");
    m.architecture.inputChannels = Get<int>(a, "input_channels");
    m.architecture.width = Get<double>(a, "width");
    m.architecture.attentionStemWidth = GetOr<int>(a, "attention_stem_width", 24);
    m.architecture.minimumChannels = GetOr<int>(a, "minimum_channels", 1);
    m.architecture.dropoutPlacement =
      DropoutPlacementFromString(GetOr<std::string>(a, "dropout_placement", "bottleneck"));
    m.architecture.dropoutRate = GetOr<double>(a, "dropout_rate", 0.2);
    m.inputSize = Get<int>(j, "input_size");
    const json & n = j.at("normalization");
    if (n.at("kind") == "meanstd")
    {
      m.normalization.kind = Normalization::Kind::MeanStd;
      m.normalization.mean = GetList<double>(n, "mean");
      m.normalization.standardDeviation = GetList<double>(n, "std");
    }
    else if (n.at("kind") == "window")
    {
      m.normalization.kind = Normalization::Kind::Window;
      m.normalization.windowCenter = Get<double>(n, "center");
      m.normalization.windowWidth = Get<double>(n, "width");
    }
    else
    {
      throw Error("unknown normalization kind " + n.at("kind").dump());
    }
    m.threshold = Get<double>(j, "threshold");
    const json & l = j.at("label");
    m.label.name = Get<std::string>(l, "name");
    // As<std::uint8_t> refuses 300 rather than storing 44; Validate refuses 0.
    m.label.value = Get<std::uint8_t>(l, "value", "label value");
    const auto color = GetList<std::uint8_t>(l, "color", "label color");
    if (color.size() != 3)
    {
      throw Error("invalid model metadata: label color must be three values 0..255, not " + l.at("color").dump());
    }
    std::copy(color.begin(), color.end(), m.label.color.begin());
    m.label.category = CodedConceptFromJson(l.at("category"));
    m.label.type = CodedConceptFromJson(l.at("type"));
    m.provenanceJson = j.value("provenance", json::object()).dump();
    if (j.contains("quality"))
    {
      const json &       q = j.at("quality");
      QualityReference & r = m.quality;
      r.present = true;
      r.modality = Get<std::string>(q, "modality", "quality modality");
      const auto intensity = GetList<double>(q, "intensity_quantiles", "quality intensity quantiles");
      const auto fraction = GetList<double>(q, "label_fraction", "quality label fraction");
      if (intensity.size() != r.intensity.size() || fraction.size() != 2)
      {
        throw Error("invalid model metadata: quality needs " + std::to_string(r.intensity.size()) +
                    " intensity quantiles and a label fraction range of 2 values");
      }
      std::copy(intensity.begin(), intensity.end(), r.intensity.begin());
      r.labelFractionLow = fraction[0];
      r.labelFractionHigh = fraction[1];
      if (!q.contains("limits") || !q.at("limits").is_object())
      {
        throw Error("invalid model metadata: quality limits are missing");
      }
      const json & limits = q.at("limits");
      r.intensityDistanceLimit = Get<double>(limits, "intensity_distance", "quality limit intensity_distance");
      r.meanEntropyLimit = Get<double>(limits, "mean_entropy_bits", "quality limit mean_entropy_bits");
      r.uncertainOutlineLimit = Get<double>(limits, "uncertain_outline_share", "quality limit uncertain_outline_share");
      r.strayShareLimit = Get<double>(limits, "stray_share", "quality limit stray_share");
      r.inputNoiseLimit = GetOr<double>(limits, "input_noise", r.inputNoiseLimit);
      r.flipDisagreementLimit = GetOr<double>(limits, "flip_disagreement", r.flipDisagreementLimit);
      if (q.contains("input_aspect"))
      {
        const auto aspect = GetList<double>(q, "input_aspect", "quality input aspect");
        if (aspect.size() != 2)
        {
          throw Error("invalid model metadata: quality input_aspect must be a range of 2 values");
        }
        r.aspectLow = aspect[0];
        r.aspectHigh = aspect[1];
      }
      r.method = GetOr<std::string>(q, "method", "");
    }
    if (j.contains("clean_up"))
    {
      const json & c = j.at("clean_up");
      if (!c.is_object())
      {
        throw Error("invalid model metadata: clean_up is not an object (" + c.dump() + ")");
      }
      m.cleanUp.keepComponents = Get<std::uint32_t>(c, "keep_components", "clean_up keep_components");
      if (!c.contains("fill_holes") || !c.at("fill_holes").is_boolean())
      {
        throw Error("invalid model metadata: clean_up fill_holes must be true or false, not " +
                    (c.contains("fill_holes") ? c.at("fill_holes").dump() : std::string("missing")));
      }
      m.cleanUp.fillHoles = c.at("fill_holes").get<bool>();
    }
    Validate(m);
    return m;
  }
  catch (const json::exception & e)
  {
    throw Error(std::string("invalid model metadata: ") + e.what());
  }
}

Flips
TrainedFlips(const ModelMetadata & metadata)
{
  // Read leniently: provenance is free-form. A model that does not record its augmentation gets both flips.
  auto member = [](const json & object, const char * key)
  { return object.is_object() && object.contains(key) ? object.at(key) : json(); };
  const json augmentation =
    member(member(json::parse(metadata.provenanceJson, nullptr, false), "options"), "augmentation");
  auto flag = [&](const char * key)
  {
    const json value = member(augmentation, key);
    return value.is_boolean() ? value.get<bool>() : true;
  };
  return { flag("flip_left_right"), flag("flip_up_down") };
}

void
Validate(const ModelMetadata & m)
{
  const ArchitectureOptions & a = m.architecture;
  auto                        fail = [](const std::string & what) { throw Error("invalid model options: " + what); };
  if (a.name != "focusnet" && a.name != "unet")
  {
    fail("architecture '" + a.name + "' is not focusnet or unet");
  }
  if (a.inputChannels != 1 && a.inputChannels != 3)
  {
    fail("input channels must be 1 or 3, not " + std::to_string(a.inputChannels));
  }
  if (!(a.width > 0.0 && a.width <= 4.0))
  {
    fail("width multiplier must be in (0, 4], not " + std::to_string(a.width));
  }
  if (a.attentionStemWidth < 1 || a.attentionStemWidth > 256)
  {
    fail("attention stem width must be in [1, 256], not " + std::to_string(a.attentionStemWidth));
  }
  if (a.minimumChannels < 1 || a.minimumChannels > 64)
  {
    fail("minimum channels must be in [1, 64], not " + std::to_string(a.minimumChannels));
  }
  if (!(a.dropoutRate >= 0.0 && a.dropoutRate < 1.0))
  {
    fail("dropout rate must be in [0, 1)");
  }
  if (m.inputSize < 16 || m.inputSize > 4096 || m.inputSize % 16 != 0)
  {
    fail("input size must be a multiple of 16 (four 2x downsamplings) in [16, 4096], not " +
         std::to_string(m.inputSize));
  }
  if (!(m.threshold > 0.0 && m.threshold < 1.0))
  {
    fail("threshold must be in (0, 1), not " + std::to_string(m.threshold));
  }
  if (m.label.value == 0)
  {
    fail("label value must be 1..255");
  }
  const Normalization & n = m.normalization;
  if (n.kind == Normalization::Kind::MeanStd)
  {
    const auto channels = static_cast<size_t>(a.inputChannels);
    if ((n.mean.size() != 1 && n.mean.size() != channels) || n.mean.size() != n.standardDeviation.size())
    {
      fail("normalization mean and std need 1 or input-channels values each");
    }
    for (double s : n.standardDeviation)
    {
      if (!(s > 0.0))
      {
        fail("normalization std must be positive");
      }
    }
  }
  else if (!(n.windowWidth > 0.0))
  {
    fail("normalization window width must be positive");
  }
  if (m.cleanUp.keepComponents > CleanUp::MostComponents)
  {
    fail("clean_up keep_components must be at most " + std::to_string(CleanUp::MostComponents) + ", not " +
         std::to_string(m.cleanUp.keepComponents));
  }
  const QualityReference & q = m.quality;
  if (q.present)
  {
    CheckModality(q.modality);
    if (!std::is_sorted(q.intensity.begin(), q.intensity.end()) ||
        !std::all_of(q.intensity.begin(), q.intensity.end(), [](double v) { return std::isfinite(v); }))
    {
      fail("quality intensity quantiles must be finite and ascending");
    }
    if (!(q.labelFractionLow >= 0.0 && q.labelFractionLow <= q.labelFractionHigh && q.labelFractionHigh <= 1.0))
    {
      fail("quality label fraction must be a range within [0, 1]");
    }
    for (const double limit :
         { q.intensityDistanceLimit, q.meanEntropyLimit, q.uncertainOutlineLimit, q.strayShareLimit })
    {
      if (!(limit >= 0.0 && std::isfinite(limit)))
      {
        fail("quality limits must be finite and not negative");
      }
    }
    // Infinite: not recorded (model files made before them).
    const bool flipsUnset = q.flipDisagreementLimit == std::numeric_limits<double>::infinity();
    if (!(q.inputNoiseLimit >= 0.0) ||
        !(flipsUnset || (q.flipDisagreementLimit >= 0.0 && q.flipDisagreementLimit <= 1.0)))
    {
      fail("quality limits input_noise must be at least 0 and flip_disagreement 0 to 1");
    }
    if (!(q.aspectLow >= 0.0 && q.aspectLow <= q.aspectHigh))
    {
      fail("quality input aspect must be a range of values not negative");
    }
  }
}

} // namespace focusnet
