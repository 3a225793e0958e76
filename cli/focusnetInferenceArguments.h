/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetInferenceArguments_h
#define focusnetInferenceArguments_h

#include "focusnetInferenceEngine.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <string>

namespace focusnet
{

/** CLI11's usage errors (a flag's value out of range, an unknown flag) in the same one-line form as every other
 * error, "NAME: error: MESSAGE", instead of CLI11's two lines. */
inline void
UseOneLineUsageErrors(CLI::App & app, const char * name)
{
  app.failure_message(
    [name](const CLI::App *, const CLI::Error & e)
    {
      std::string message = e.what();
      std::replace(message.begin(), message.end(), '\n', ' ');
      return std::string(name) + ": error: " + message + "\n";
    });
}

/** The help line of an option: its description's, capitalised. */
inline std::string
HelpOf(const char * help)
{
  std::string text = help;
  text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

/** A CLI11 check of a numeric option in the library's words ("batch size must lie in [1, 256], not 0"). */
inline CLI::Validator
CheckedBy(const NumericOption & description)
{
  return CLI::Validator([description](std::string & text) { return TextRefusal(description, text); },
                        description.Range());
}

/** A CLI11 check of a word option in the library's words ("precision must be fp32, bf16 or fp16, not 'fp8'"). */
inline CLI::Validator
CheckedBy(const WordOption & description)
{
  return CLI::Validator([description](std::string & text) { return OptionRefusal(description, text); },
                        description.values);
}

/** A flag made from the library's description of a numeric option (focusnetOptions.h): its name, help, default and
 * range, refused in the library's words ("--batch-size: batch size must lie in [1, 256], not 0"). The value is read
 * as its check reads it (DecimalNumber: "010" is ten, not CLI11's octal eight). */
template <typename T>
CLI::Option *
AddNumericOption(CLI::App & command, const NumericOption & description, T & value)
{
  auto * added = command
                   .add_option_function<std::string>(
                     description.Flag(),
                     [&value](const std::string & text) { value = static_cast<T>(*DecimalNumber(text)); },
                     HelpOf(description.help))
                   ->check(CheckedBy(description))
                   ->type_name(description.whole ? "INT" : "FLOAT");
  if (!std::isnan(static_cast<double>(value))) // else no number: the help says what the default is
  {
    added->default_str(ShortestNumber(value));
  }
  return added;
}

/** A flag made from the library's description of a word option: option::Device into a focusnet::Device,
 * option::Precision into a focusnet::Precision, a word kept as text into a std::string. */
template <typename TWord>
CLI::Option *
AddWordOption(CLI::App & command, const WordOption & description, TWord & value)
{
  std::ostringstream shown;
  shown << value;
  return command
    .add_option_function<std::string>(
      std::string("--") + description.keyword,
      [&value](const std::string & text) { value = TWord(text); },
      HelpOf(description.help))
    ->check(CheckedBy(description))
    ->type_name("TEXT")
    ->default_str(shown.str());
}

/** The name of an option in the Slicer CLI's XML, as Slicer's modules name parameters: batch_size -> batchSize. */
inline std::string
CamelCase(const std::string & keyword)
{
  std::string name;
  for (std::size_t i = 0; i < keyword.size(); ++i)
  {
    name += keyword[i] == '_' && i + 1 < keyword.size()
              ? static_cast<char>(std::toupper(static_cast<unsigned char>(keyword[++i])))
              : keyword[i];
  }
  return name;
}

/** --device and --threads, as every command that runs a network takes them (focusnet-train too). */
inline void
AddDeviceArguments(CLI::App & command, Device & device, int & threads)
{
  AddWordOption(command, option::Device, device);
  AddNumericOption(command, option::Threads, threads);
}

/** The inference flags of segment, batch and evaluate: one definition of each, its default and its check. */
inline void
AddInferenceArguments(CLI::App & command, InferenceOptions & options)
{
  AddDeviceArguments(command, options.device, options.threads);
  AddNumericOption(command, option::BatchSize, options.batchSize);
  command.add_flag(std::string("--") + option::FlipAugmentation.keyword,
                   options.flipAugmentation,
                   HelpOf(option::FlipAugmentation.help));
  AddWordOption(command, option::Precision, options.precision);
}

} // namespace focusnet

#endif
