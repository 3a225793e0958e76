/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "FocusNetSegmentationCommandLine.h"

#include "FocusNetSegmentationXML.h"
#include "focusnetError.h"
#include "focusnetInferenceArguments.h"
#include "focusnetVersion.h"

#include <CLI/CLI.hpp>
#include <expat.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <limits>
#include <map>
#include <string>

namespace focusnet::slicer
{
namespace
{
/** One parameter of the module description: a child of <parameters> such as <image>, <integer> or <boolean>. */
struct Parameter
{
  std::string              tag;
  std::string              name, label, description, flag, longflag, channel, defaultValue;
  int                      index{ -1 };
  std::vector<std::string> elements; ///< of a string-enumeration
  std::string              minimum, maximum;

  /** Output scalars (no flag, no index) are reported through --returnparameterfile, not given on the command line. */
  bool
  OnCommandLine() const
  {
    return index >= 0 || !flag.empty() || !longflag.empty();
  }
};

/** Reads the <parameters> of a Slicer module description with expat. */
class ModuleDescriptionReader
{
public:
  static std::vector<Parameter>
  Read(const std::string & xml)
  {
    ModuleDescriptionReader reader;
    XML_Parser              parser = XML_ParserCreate("UTF-8");
    XML_SetUserData(parser, &reader);
    XML_SetElementHandler(parser, &Start, &End);
    XML_SetCharacterDataHandler(parser, &Text);
    const bool        ok = XML_Parse(parser, xml.data(), static_cast<int>(xml.size()), 1) == XML_STATUS_OK;
    const std::string error = ok ? std::string() : XML_ErrorString(XML_GetErrorCode(parser));
    XML_ParserFree(parser);
    if (!ok)
    {
      throw Error("FocusNetSegmentation.xml: " + error);
    }
    return reader.m_Parameters;
  }

private:
  static void XMLCALL
  Start(void * data, const XML_Char * element, const XML_Char ** attributes)
  {
    auto &            self = *static_cast<ModuleDescriptionReader *>(data);
    const std::string tag = element;
    if (!self.m_Path.empty() && self.m_Path.back() == "parameters" && tag != "label" && tag != "description")
    {
      self.m_Parameters.push_back(Parameter{ tag });
      (void)attributes; // type, reference, fileExtensions: for Slicer, not for parsing the command line
    }
    self.m_Path.push_back(tag);
    self.m_Text.clear();
  }

  static void XMLCALL
  End(void * data, const XML_Char * element)
  {
    auto &            self = *static_cast<ModuleDescriptionReader *>(data);
    const std::string tag = element;
    self.m_Path.pop_back();
    const bool inParameter = self.m_Path.size() >= 3 && self.m_Path[self.m_Path.size() - 2] == "parameters";
    const bool inConstraints = self.m_Path.size() >= 4 && self.m_Path.back() == "constraints";
    if (!self.m_Parameters.empty() && (inParameter || inConstraints))
    {
      Parameter &                          p = self.m_Parameters.back();
      const std::string                    text = Trimmed(self.m_Text);
      std::map<std::string, std::string *> fields{
        { "name", &p.name },         { "label", &p.label },     { "description", &p.description }, { "flag", &p.flag },
        { "longflag", &p.longflag }, { "channel", &p.channel }, { "default", &p.defaultValue }
      };
      if (inConstraints && (tag == "minimum" || tag == "maximum"))
      {
        (tag == "minimum" ? p.minimum : p.maximum) = text;
      }
      else if (inParameter && fields.count(tag) > 0)
      {
        *fields[tag] = text;
      }
      else if (inParameter && tag == "index")
      {
        p.index = std::stoi(text);
      }
      else if (inParameter && tag == "element")
      {
        p.elements.push_back(text);
      }
    }
    self.m_Text.clear();
  }

  static void XMLCALL
  Text(void * data, const XML_Char * text, int length)
  {
    static_cast<ModuleDescriptionReader *>(data)->m_Text.append(text, static_cast<std::size_t>(length));
  }

  static std::string
  Trimmed(const std::string & text)
  {
    const auto first = text.find_first_not_of(" \t\r\n");
    return first == std::string::npos ? std::string()
                                      : text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  }

  std::vector<std::string> m_Path;
  std::string              m_Text;
  std::vector<Parameter>   m_Parameters;
};

/** Refuses an empty file name (Slicer never passes one; a hand-written command line might), before it reaches the
 * readers, whose message would name no file. */
const CLI::Validator NonEmpty([](std::string & value)
                              { return value.empty() ? std::string("an empty file name") : std::string(); },
                              "FILE");

/** The library's description of the option that the XML's parameter name stands for (batchSize: batch_size). */
template <typename Description, std::size_t N>
const Description *
Described(const Description * const (&descriptions)[N], const std::string & name)
{
  for (const Description * description : descriptions)
  {
    if (CamelCase(description->keyword) == name)
    {
      return description;
    }
  }
  return nullptr;
}

/** The threshold as the XML offers it: 0 for the model file's, else option::Threshold's check. */
const CLI::Validator ThresholdOrZero(
  [](std::string & text) { return DecimalNumber(text) == 0.0 ? std::string() : CheckedBy(option::Threshold)(text); },
  "0 or " + option::Threshold.Range());

/** A number parameter that the library does not describe: within the XML's range. */
CLI::Validator
WithinXmlRange(const Parameter & p)
{
  const double low = p.minimum.empty() ? std::numeric_limits<double>::lowest() : std::stod(p.minimum);
  const double high = p.maximum.empty() ? std::numeric_limits<double>::max() : std::stod(p.maximum);
  return CLI::Validator(
    [low, high, name = p.name](std::string & text)
    {
      const std::optional<double> value = DecimalNumber(text);
      return !value ? name + " must be a decimal number, not '" + text + "'"
             : *value < low || *value > high
               ? name + " must lie in [" + ShortestNumber(low) + ", " + ShortestNumber(high) + "], not " + text
               : std::string();
    },
    "[" + p.minimum + ", " + p.maximum + "]");
}

/** The command line Slicer builds from the description, parsed by CLI11 options made from the same description. */
struct Arguments
{
  std::map<std::string, std::string> values; ///< by parameter name; defaults from the description
  std::map<std::string, bool>        switches;
  std::string                        returnParameterFile;
  bool                               echo{ false };

  void
  AddTo(CLI::App & app, const std::vector<Parameter> & parameters)
  {
    std::vector<const Parameter *> positional;
    for (const Parameter & p : parameters)
    {
      if (!p.OnCommandLine())
      {
        continue;
      }
      if (p.index >= 0)
      {
        positional.push_back(&p);
        continue;
      }
      const std::string names =
        (p.flag.empty() ? std::string() : "-" + p.flag + ",") + (p.longflag.empty() ? "" : "--" + p.longflag);
      if (p.tag == "boolean")
      {
        switches[p.name] = p.defaultValue == "true";
        app.add_flag(names, switches[p.name], p.label);
        continue;
      }
      values[p.name] = p.defaultValue;
      CLI::Option * option = app.add_option(names, values[p.name], p.label);
      // The library's options are checked by the library, in the words of every other front door; the XML's
      // ranges and choices are made from the same description (focusnet-options) for Slicer's widgets.
      if (p.name == CamelCase(option::Threshold.keyword))
      {
        option->check(ThresholdOrZero);
      }
      else if (const NumericOption * numeric = Described(option::Numeric, p.name))
      {
        option->check(CheckedBy(*numeric));
      }
      else if (const WordOption * word = Described(option::Words, p.name))
      {
        option->check(CheckedBy(*word)); // any cuda:N, not only the devices the XML lists
      }
      else if (p.tag == "string-enumeration")
      {
        option->check(CLI::IsMember(p.elements));
      }
      else if (p.tag == "integer" || p.tag == "double")
      {
        option->check(WithinXmlRange(p));
        if (p.tag == "integer")
        {
          option->check(CLI::TypeValidator<long>());
        }
      }
    }
    std::sort(positional.begin(), positional.end(), [](auto * a, auto * b) { return a->index < b->index; });
    for (const Parameter * p : positional)
    {
      app.add_option(p->name, values[p->name], p->label)->required()->check(NonEmpty);
    }
    app.add_option("--returnparameterfile", returnParameterFile, "Write the output parameters here (name = value)");
    app.add_flag("--echo", echo, "Print the parameters as parsed");
  }
};

} // namespace

std::optional<SegmentationRequest>
ParseCommandLine(int argc, const char * const * argv, int & exitCode, std::ostream & out, std::ostream & err)
{
  static const std::vector<Parameter> parameters = ModuleDescriptionReader::Read(FocusNetSegmentationXML);
  CLI::App app{ "FocusNet Segmentation: the 3D Slicer CLI module (--xml: its description)", "FocusNetSegmentation" };
  app.set_version_flag("--version", std::string(Version));
  UseOneLineUsageErrors(app, "FocusNetSegmentation");
  Arguments arguments;
  arguments.AddTo(app, parameters);
  try
  {
    app.parse(argc, argv);
  }
  catch (const CLI::ParseError & e)
  {
    exitCode = app.exit(e, out, err);
    return std::nullopt;
  }
  auto &              v = arguments.values;
  SegmentationRequest request;
  if (arguments.echo)
  {
    request.echo.assign(v.begin(), v.end());
    for (const auto & [name, on] : arguments.switches)
    {
      request.echo.emplace_back(name, on ? "true" : "false");
    }
  }
  request.inputVolume = v["inputVolume"];
  request.outputLabelVolume = v["outputLabelVolume"];
  request.modelFile = v["modelFile"];
  request.returnParameterFile = arguments.returnParameterFile;
  // The library's options by their Slicer names, read as their checks read them (SetInferenceOption).
  SegmentationOptions & options = request.options;
  for (const char * keyword : InferenceOptionKeywords)
  {
    const std::string name = CamelCase(keyword);
    const auto        on = arguments.switches.find(name);
    SetInferenceOption(
      options.inference, keyword, on != arguments.switches.end() ? (on->second ? "true" : "false") : v[name]);
  }
  const double threshold = *DecimalNumber(v[CamelCase(option::Threshold.keyword)]);
  options.threshold = threshold > 0.0 ? threshold : std::numeric_limits<double>::quiet_NaN();
  options.probabilityFileName = v["probabilityVolume"];
  options.slicerSegmentationFileName = v["outputSegmentation"];
  options.overwrite = true; // Slicer names the outputs it wants written, as CLI modules do
  return request;
}

} // namespace focusnet::slicer
