/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// slicer-command-line MODULE_XML EXECUTABLE [--return-parameter-file FILE] [NAME=VALUE ...]
//
// Prints, one argument a line, the command line that 3D Slicer's CLI module logic (vtkSlicerCLIModuleLogic) runs for
// an executable CLI module whose parameters have the given values, the others keeping their XML defaults. The XML is
// read by SlicerExecutionModel's ModuleDescriptionParser, as Slicer reads it. The rules are Slicer's:
//  - the executable, then --returnparameterfile FILE when the module has return parameters (output parameters with
//    neither flag nor index; Slicer makes the file, here it is given);
//  - then each flagged parameter in the XML's order, as --longflag (-flag only when there is no long flag):
//    booleans as the flag alone when true and nothing when false; integers, floats, doubles and enumerations always,
//    as the flag and the value; strings, files and directories only with a value; images and other data only when
//    given (Slicer writes a node to a temporary file and passes its path);
//  - then the index parameters in index order, each with its value.
// Exit status 1 with a message for an XML Slicer would refuse, a name the XML does not declare, an index parameter
// without a value, or no return parameter file for a module that has return parameters (Slicer would not run those).

#include "ModuleDescription.h"
#include "ModuleDescriptionParser.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace
{
const std::set<std::string> alwaysPassed = { "integer", "float", "double", "string-enumeration", "integer-enumeration",
                                              "float-enumeration", "double-enumeration" };
const std::set<std::string> passedWhenNotEmpty = { "string",         "file",          "directory",
                                                   "integer-vector", "float-vector",  "double-vector",
                                                   "string-vector",  "point",         "pointfile",
                                                   "region" };
} // namespace

int
main(int argc, char ** argv)
{
  if (argc < 3)
  {
    std::cerr << "usage: slicer-command-line MODULE_XML EXECUTABLE [--return-parameter-file FILE] [NAME=VALUE ...]\n";
    return EXIT_FAILURE;
  }
  std::ifstream     file(argv[1]);
  std::stringstream xml;
  xml << file.rdbuf();
  ModuleDescription       module;
  ModuleDescriptionParser parser;
  if (!file || parser.Parse(xml.str(), module) != 0)
  {
    std::cerr << argv[1] << ": ModuleDescriptionParser refused the module description\n";
    return EXIT_FAILURE;
  }

  std::string                        returnParameterFile;
  std::map<std::string, std::string> values;
  for (int i = 3; i < argc; ++i)
  {
    const std::string argument = argv[i];
    if (argument == "--return-parameter-file" && i + 1 < argc)
    {
      returnParameterFile = argv[++i];
      continue;
    }
    const auto equals = argument.find('=');
    if (equals == std::string::npos || !module.HasParameter(argument.substr(0, equals)))
    {
      std::cerr << argv[1] << ": no parameter " << argument.substr(0, equals) << '\n';
      return EXIT_FAILURE;
    }
    values[argument.substr(0, equals)] = argument.substr(equals + 1);
  }

  std::vector<std::string>   command{ argv[2] };
  std::map<int, std::string> indexed;
  if (module.HasReturnParameters())
  {
    if (returnParameterFile.empty())
    {
      std::cerr << argv[1] << ": the module has return parameters: give --return-parameter-file\n";
      return EXIT_FAILURE;
    }
    command.insert(command.end(), { "--returnparameterfile", returnParameterFile });
  }
  for (const auto & group : module.GetParameterGroups())
  {
    for (const auto & parameter : group.GetParameters())
    {
      const auto        given = values.find(parameter.GetName());
      const std::string value = given != values.end() ? given->second : parameter.GetDefault();
      if (!parameter.GetIndex().empty())
      {
        if (value.empty())
        {
          std::cerr << argv[1] << ": no value for " << parameter.GetName() << " (Slicer would not run the module)\n";
          return EXIT_FAILURE;
        }
        indexed[std::stoi(parameter.GetIndex())] = value;
        continue;
      }
      if (parameter.GetLongFlag().empty() && parameter.GetFlag().empty())
      {
        continue; // a return parameter
      }
      const std::string flag = parameter.GetLongFlag().empty() ? "-" + parameter.GetFlag() : "--" + parameter.GetLongFlag();
      const std::string & tag = parameter.GetTag();
      if (tag == "boolean")
      {
        if (value == "true")
        {
          command.push_back(flag);
        }
      }
      else if (alwaysPassed.count(tag) || ((passedWhenNotEmpty.count(tag) || given != values.end()) && !value.empty()))
      {
        command.insert(command.end(), { flag, value });
      }
    }
  }
  for (const auto & [index, value] : indexed)
  {
    command.push_back(value);
  }
  for (const auto & argument : command)
  {
    std::cout << argument << '\n';
  }
  return EXIT_SUCCESS;
}
