/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// focusnet-options: writes the files that describe the options outside C++ from the library's one description
// (focusnetOptions.h). Not installed; the build's focusnet-regenerate target runs it, and a test fails when a
// committed file differs from what it writes.
//
//   focusnet-options fill TEMPLATE     the template with each @{keyword.field} replaced (the Slicer CLI's XML, the
//   .pyi) focusnet-options readme README     the README with the part between its options markers made anew
//
// Fields: name, keyword, flag (--batch-size), default, help (as written), Help (capitalised), and for numbers lowest,
// highest and range ("[1, 256]"), for words values ("auto, cpu, cuda or cuda:N").

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

std::string
Number(double value)
{
  std::ostringstream text;
  text << value;
  return text.str();
}

/** "@keyword.field@" -> its text, for every option of the table. */
std::map<std::string, std::string>
Fields()
{
  std::map<std::string, std::string> fields;
  const auto                         common = [&](const std::string & keyword, const char * name, const char * help)
  {
    fields[keyword + ".name"] = name;
    fields[keyword + ".keyword"] = keyword;
    fields[keyword + ".help"] = help;
    fields[keyword + ".Help"] = HelpOf(help);
  };
  for (const NumericOption * o : option::Numeric)
  {
    common(o->keyword, o->name, o->help);
    fields[std::string(o->keyword) + ".flag"] = o->Flag();
    fields[std::string(o->keyword) + ".lowest"] = Number(o->lowest);
    fields[std::string(o->keyword) + ".highest"] = Number(o->highest);
    fields[std::string(o->keyword) + ".range"] = o->Range();
    if (!std::isnan(o->fallback))
    {
      fields[std::string(o->keyword) + ".default"] = Number(o->fallback);
    }
  }
  for (const WordOption * o : option::Words)
  {
    common(o->keyword, o->name, o->help);
    fields[std::string(o->keyword) + ".flag"] = std::string("--") + o->keyword;
    fields[std::string(o->keyword) + ".default"] = o->fallback;
    fields[std::string(o->keyword) + ".values"] = o->values;
  }
  for (const FlagOption * o : option::Flags)
  {
    common(o->keyword, o->name, o->help);
    fields[std::string(o->keyword) + ".flag"] = std::string("--") + o->keyword;
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
    row(o->keyword, o->Flag(), std::isnan(o->fallback) ? "the model file's" : Number(o->fallback), o->Range(), o->help);
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
  const auto        end = text.find(End);
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
