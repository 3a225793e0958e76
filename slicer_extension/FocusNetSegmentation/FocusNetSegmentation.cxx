/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The 3D Slicer CLI module FocusNetSegmentation. FocusNetSegmentation.xml is the one description of its parameters:
// the executable answers --xml with it, and builds its command-line parser from it at run time (Debian has no
// SlicerExecutionModel/GenerateCLP). The work is focusnet::SegmentImageFile, as for `focusnet segment`.

#include "FocusNetSegmentationXML.h"
#include "focusnetAtomicFile.h"
#include "focusnetCommandLineMain.h"
#include "focusnetModel.h"
#include "focusnetSegmentation.h"
#include "focusnetVersion.h"

#include <CLI/CLI.hpp>
#include <expat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace
{
using focusnet::Error;
namespace fs = std::filesystem;

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
      if (p.tag == "integer" || p.tag == "double")
      {
        const double low = p.minimum.empty() ? std::numeric_limits<double>::lowest() : std::stod(p.minimum);
        const double high = p.maximum.empty() ? std::numeric_limits<double>::max() : std::stod(p.maximum);
        option->check(CLI::Range(low, high));
        if (p.tag == "integer")
        {
          option->check(CLI::TypeValidator<long>());
        }
      }
      else if (p.tag == "string-enumeration")
      {
        option->check(CLI::IsMember(p.elements));
      }
    }
    std::sort(positional.begin(), positional.end(), [](auto * a, auto * b) { return a->index < b->index; });
    for (const Parameter * p : positional)
    {
      app.add_option(p->name, values[p->name], p->label)->required();
    }
    app.add_option("--returnparameterfile", returnParameterFile, "Write the output parameters here (name = value)");
    app.add_flag("--echo", echo, "Print the parameters as parsed");
  }
};

void
WriteReturnParameters(const std::string & fileName, const std::vector<std::pair<std::string, std::string>> & values)
{
  std::string text;
  for (const auto & [name, value] : values)
  {
    text += name + " = " + value + "\n";
  }
  focusnet::WriteTextAtomically(fileName, text);
}

int
Run(int argc, char ** argv)
{
  const std::string xml = FocusNetSegmentationXML;
  for (int i = 1; i < argc; ++i)
  {
    if (std::string(argv[i]) == "--xml")
    {
      std::cout << xml;
      return EXIT_SUCCESS;
    }
  }
  const std::vector<Parameter> parameters = ModuleDescriptionReader::Read(xml);
  CLI::App app{ "FocusNet Segmentation: the 3D Slicer CLI module (--xml: its description)", "FocusNetSegmentation" };
  app.set_version_flag("--version", std::string(focusnet::Version));
  Arguments arguments;
  arguments.AddTo(app, parameters);
  CLI11_PARSE(app, argc, argv);
  auto & v = arguments.values;
  if (arguments.echo)
  {
    for (const auto & [name, value] : v)
    {
      std::cout << name << " = " << value << '\n';
    }
    for (const auto & [name, on] : arguments.switches)
    {
      std::cout << name << " = " << (on ? "true" : "false") << '\n';
    }
  }

  focusnet::SegmentationOptions options;
  options.inference.device = v["device"];
  options.inference.threads = std::stoi(v["threads"]);
  options.inference.batchSize = std::stoi(v["batchSize"]);
  options.inference.flipAugmentation = arguments.switches["tta"];
  const double threshold = std::stod(v["threshold"]);
  options.threshold = threshold > 0.0 ? threshold : std::numeric_limits<double>::quiet_NaN();
  options.probabilityFileName = v["probabilityVolume"];
  options.slicerSegmentationFileName = v["outputSegmentation"];
  options.overwrite = true; // Slicer names the outputs it wants written, as CLI modules do
  options.progress = [](float fraction)
  { std::cout << "<filter-progress>" << fraction << "</filter-progress>" << std::endl; };

  const std::string modelFile = v["modelFile"].empty()
                                  ? focusnet::DefaultModelFile((fs::path(focusnet::ExecutableFolder()) /
                                                                FOCUSNET_CLI_TO_MODEL_DIR / FOCUSNET_DEFAULT_MODEL_NAME)
                                                                 .lexically_normal()
                                                                 .string())
                                  : v["modelFile"];
  const auto        model = std::make_shared<const focusnet::Model>(focusnet::Model::Load(modelFile));

  std::cout << "<filter-start>\n<filter-name>FocusNetSegmentation</filter-name>\n<filter-comment>"
            << model->Metadata().label.name << " with " << fs::path(modelFile).filename().string()
            << "</filter-comment>\n</filter-start>" << std::endl;
  const auto   start = std::chrono::steady_clock::now();
  const auto   result = focusnet::SegmentImageFile(v["inputVolume"], v["outputLabelVolume"], model, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "<filter-end>\n<filter-name>FocusNetSegmentation</filter-name>\n<filter-time>" << seconds
            << "</filter-time>\n</filter-end>" << std::endl;

  if (!arguments.returnParameterFile.empty())
  {
    WriteReturnParameters(arguments.returnParameterFile,
                          { { "segmentedVolume", std::to_string(result.labelVolumeMm3 / 1000.0) },
                            { "voxelCount", std::to_string(result.labelVoxels) } });
  }
  return EXIT_SUCCESS;
}

} // namespace

int
main(int argc, char ** argv)
{
  return focusnet::RunCommandLine("FocusNetSegmentation", Run, argc, argv);
}
