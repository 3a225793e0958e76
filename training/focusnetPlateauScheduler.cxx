/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetPlateauScheduler.h"

#include <algorithm>

namespace focusnet
{

PlateauScheduler::PlateauScheduler(const Options & options, double initialRate)
  : m_Options(options)
{
  m_State.rate = initialRate;
}

bool
PlateauScheduler::Step(double loss)
{
  const bool best = loss < m_State.best;
  if (best)
  {
    m_State.best = loss;
  }
  if (loss < m_State.improvedBest - m_Options.threshold)
  {
    m_State.improvedBest = loss;
    m_State.epochsSinceImprovement = 0;
    m_State.epochsSinceReduction = 0;
    return best;
  }
  ++m_State.epochsSinceImprovement;
  if (++m_State.epochsSinceReduction >= m_Options.patience)
  {
    m_State.rate = std::max(m_Options.minimumRate, m_State.rate * m_Options.factor);
    m_State.epochsSinceReduction = 0;
  }
  return best;
}

bool
PlateauScheduler::ShouldStop() const
{
  return m_Options.stopPatience > 0 && m_State.epochsSinceImprovement >= m_Options.stopPatience;
}

} // namespace focusnet
