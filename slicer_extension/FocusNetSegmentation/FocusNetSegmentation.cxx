/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// The 3D Slicer CLI module FocusNetSegmentation. FocusNetSegmentation.xml is the one description of its parameters:
// the executable answers --xml with it, and builds its command-line parser from it at run time (Debian has no
// SlicerExecutionModel/GenerateCLP; FocusNetSegmentationCommandLine.cxx). The work is focusnet::SegmentImageFile, as
// for `focusnet segment`.

#include "FocusNetSegmentationCommandLine.h"
#include "FocusNetSegmentationXML.h"
#include "focusnetAtomicFile.h"
#include "focusnetCommandLineMain.h"
#include "focusnetModel.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace
{
namespace fs = std::filesystem;

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
  for (int i = 1; i < argc; ++i)
  {
    if (std::string(argv[i]) == "--xml")
    {
      std::cout << FocusNetSegmentationXML;
      return EXIT_SUCCESS;
    }
  }
  int        exitCode = EXIT_SUCCESS;
  const auto request = focusnet::slicer::ParseCommandLine(argc, argv, exitCode, std::cout, std::cerr);
  if (!request)
  {
    return exitCode;
  }
  for (const auto & [name, value] : request->echo)
  {
    std::cout << name << " = " << value << '\n';
  }
  focusnet::SegmentationOptions options = request->options;
  options.progress = [](float fraction)
  { std::cout << "<filter-progress>" << fraction << "</filter-progress>" << std::endl; };

  const std::string modelFile = request->modelFile.empty()
                                  ? focusnet::DefaultModelFile((fs::path(focusnet::ExecutableFolder()) /
                                                                FOCUSNET_CLI_TO_MODEL_DIR / FOCUSNET_DEFAULT_MODEL_NAME)
                                                                 .lexically_normal()
                                                                 .string())
                                  : request->modelFile;
  const auto        model = std::make_shared<const focusnet::Model>(focusnet::Model::Load(modelFile));

  std::cout << "<filter-start>\n<filter-name>FocusNetSegmentation</filter-name>\n<filter-comment>"
            << model->Metadata().label.name << " with " << fs::path(modelFile).filename().string()
            << "</filter-comment>\n</filter-start>" << std::endl;
  const auto   start = std::chrono::steady_clock::now();
  const auto   result = focusnet::SegmentImageFile(request->inputVolume, request->outputLabelVolume, model, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "<filter-end>\n<filter-name>FocusNetSegmentation</filter-name>\n<filter-time>" << seconds
            << "</filter-time>\n</filter-end>" << std::endl;

  if (!request->returnParameterFile.empty())
  {
    std::string reasons;
    for (const focusnet::QualityFlag & flag : result.flags)
    {
      reasons += (reasons.empty() ? "" : " | ") + flag.name + ": " + flag.reason;
    }
    const std::string flags = focusnet::FlagNames(result.flags);
    WriteReturnParameters(request->returnParameterFile,
                          { { "segmentedVolume", std::to_string(result.labelVolumeMm3 / 1000.0) },
                            { "voxelCount", std::to_string(result.labelVoxels) },
                            { "qualityFlags", flags.empty() ? std::string("none") : flags },
                            { "qualityReasons", reasons } });
  }
  return EXIT_SUCCESS;
}

} // namespace

int
main(int argc, char ** argv)
{
  return focusnet::RunCommandLine("FocusNetSegmentation", Run, argc, argv);
}
