/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// focusnet-options: writes the files that describe the options outside C++ from the library's one description
// (focusnetOptions.h). Not installed; the build's focusnet-regenerate target runs it, and a test fails when a
// committed file differs from what it writes.
//
//   focusnet-options fill TEMPLATE
//     the template with each @{keyword.field} replaced (the Slicer CLI's XML, the .pyi)
//   focusnet-options readme README
//     the README with the part between its options markers made anew
//
// Fields of every option: name, keyword, slicer (its name in the Slicer CLI: batchSize), flag (--batch-size), help
// (as written), Help (capitalised); of numbers: default, lowest, highest, range ("[1, 256]"), step, and smallest and
// largest (the ends a widget offers: an open range's one step inside); of words: default, values ("auto, cpu, cuda
// or cuda:N") and elements (the menu as the XML's <element>s).

#include "focusnetInferenceArguments.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace
{
using namespace focusnet;

/** "keyword.field" -> its text, for every option of the description. */
std::map<std::string, std::string>
Fields()
{
  std::map<std::string, std::string> fields;
  /** The fields every option has; returns the setter of its own. */
  const auto common = [&fields](const std::string & keyword, const char * name, const char * help, std::string flag)
  {
    const auto field = [&fields, keyword](const char * field, const std::string & text)
    { fields[keyword + "." + field] = text; };
    field("name", name);
    field("keyword", keyword);
    field("help", help);
    field("Help", HelpOf(help));
    field("slicer", CamelCase(keyword));
    field("flag", flag);
    return field;
  };
  for (const NumericOption * o : option::Numeric)
  {
    const auto field = common(o->keyword, o->name, o->help, o->Flag());
    field("lowest", ShortestNumber(o->lowest));
    field("highest", ShortestNumber(o->highest));
    field("range", o->Range());
    field("step", ShortestNumber(o->step));
    field("smallest", ShortestNumber(o->open ? o->lowest + o->step : o->lowest));
    field("largest", ShortestNumber(o->open ? o->highest - o->step : o->highest));
    if (!std::isnan(o->fallback))
    {
      field("default", ShortestNumber(o->fallback));
    }
  }
  for (const WordOption * o : option::Words)
  {
    const auto field = common(o->keyword, o->name, o->help, std::string("--") + o->keyword);
    field("default", o->fallback);
    field("values", o->values);
    std::string elements;
    for (std::size_t i = 0; i < o->menuSize; ++i)
    {
      elements += std::string(i == 0 ? "" : "\n      ") + "<element>" + o->menu[i] + "</element>";
    }
    field("elements", elements);
  }
  for (const FlagOption * o : option::Flags)
  {
    common(o->keyword, o->name, o->help, std::string("--") + o->keyword);
  }
  return fields;
}

std::string
Read(const std::string & path)
{
  std::ifstream file(path, std::ios::binary);
  if (!file)
  {
    throw std::runtime_error(path + ": cannot read");
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

/** The template with each @{keyword.field} replaced; one that names no field is an error naming it. */
std::string
Fill(const std::string & path)
{
  const std::string                        text = Read(path);
  const std::map<std::string, std::string> fields = Fields();
  std::string                              out;
  std::size_t                              at = 0;
  for (std::size_t open = text.find("@{"); open != std::string::npos; open = text.find("@{", at))
  {
    const std::size_t close = text.find('}', open);
    const std::string token = close == std::string::npos ? std::string() : text.substr(open + 2, close - open - 2);
    const auto        found = fields.find(token);
    if (found == fields.end())
    {
      throw std::runtime_error(path + ": no option field " + text.substr(open, close - open + 1));
    }
    out += text.substr(at, open - at) + found->second;
    at = close + 1;
  }
  return out + text.substr(at);
}

/** The options as the README lists them: one row each, the command's flag, the Python keyword, the default and
 * what it accepts. */
std::string
OptionTable()
{
  std::ostringstream table;
  table << "| option | `focusnet` | Python | Slicer CLI | default | accepts |\n|---|---|---|---|---|---|\n";
  const auto row = [&](const std::string & keyword,
                       const std::string & flag,
                       const std::string & fallback,
                       const std::string & accepts,
                       const char *        help)
  {
    table << "| " << help << " | `" << flag << "` | `" << keyword << "` | `--" << CamelCase(keyword) << "` | "
          << fallback << " | " << accepts << " |\n";
  };
  for (const WordOption * o : option::Words)
  {
    row(o->keyword, std::string("--") + o->keyword, std::string("`") + o->fallback + "`", o->values, o->help);
  }
  for (const NumericOption * o : option::Numeric)
  {
    row(o->keyword,
        o->Flag(),
        std::isnan(o->fallback) ? "the model file's" : ShortestNumber(o->fallback),
        o->Range(),
        o->help);
  }
  for (const FlagOption * o : option::Flags)
  {
    row(o->keyword, std::string("--") + o->keyword, "off", "on or off", o->help);
  }
  return table.str();
}

const std::string Begin = "<!-- options: made by focusnet-options from core/include/focusnetOptions.h -->\n";
const std::string End = "<!-- options: end -->\n";

std::string
Readme(const std::string & path)
{
  const std::string text = Read(path);
  const auto        begin = text.find(Begin);
  const auto        end = begin == std::string::npos ? begin : text.find(End, begin);
  if (begin == std::string::npos || end == std::string::npos || end < begin)
  {
    throw std::runtime_error(path + ": no options markers");
  }
  return text.substr(0, begin + Begin.size()) + OptionTable() + text.substr(end);
}

} // namespace

int
main(int argc, char ** argv)
{
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "fill" && mode != "readme")
  {
    std::cerr << "usage: focusnet-options fill TEMPLATE | focusnet-options readme README\n";
    return EXIT_FAILURE;
  }
  try
  {
    std::cout << (mode == "fill" ? Fill(argv[2]) : Readme(argv[2]));
    return EXIT_SUCCESS;
  }
  catch (const std::exception & e)
  {
    std::cerr << "focusnet-options: error: " << e.what() << "\n";
    return EXIT_FAILURE;
  }
}
