/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetTerminalProgress_h
#define focusnetTerminalProgress_h

#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace focusnet
{

/** A one-line progress bar on stderr, drawn only when stderr is a terminal (logs and pipes stay clean). */
class TerminalProgress
{
public:
  explicit TerminalProgress(std::string label)
    : m_Label(std::move(label))
    , m_Enabled(::isatty(STDERR_FILENO) != 0)
    , m_Start(std::chrono::steady_clock::now())
  {
  }
  TerminalProgress(const TerminalProgress &) = delete;
  TerminalProgress &
  operator=(const TerminalProgress &) = delete;
  ~TerminalProgress() { Finish(); }

  /** True when the bar is drawn: stderr is a terminal. */
  bool
  Drawing() const
  {
    return m_Enabled;
  }

  void
  Update(float fraction, const std::string & details = {})
  {
    if (!m_Enabled)
    {
      return;
    }
    constexpr int width = 30;
    const int     filled = static_cast<int>(fraction * width + 0.5F);
    const double  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_Start).count();
    const double  eta = fraction > 0.0F ? seconds * (1.0 - fraction) / fraction : 0.0;
    std::fprintf(stderr,
                 "\r%s [%s%s] %3d%%  %s%s%.0fs elapsed, ETA %.0fs ",
                 m_Label.c_str(),
                 std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(),
                 static_cast<int>(fraction * 100.0F + 0.5F),
                 details.c_str(),
                 details.empty() ? "" : ", ",
                 seconds,
                 eta);
    std::fflush(stderr);
    m_Drawn = true;
  }

  void
  Finish()
  {
    if (m_Drawn)
    {
      std::fputc('\n', stderr);
      m_Drawn = false;
    }
  }

private:
  std::string                           m_Label;
  bool                                  m_Enabled;
  bool                                  m_Drawn{ false };
  std::chrono::steady_clock::time_point m_Start;
};

} // namespace focusnet

#endif
