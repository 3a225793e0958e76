/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetPlateauScheduler_h
#define focusnetPlateauScheduler_h

#include "focusnetTrainingOptions.h"

#include <limits>

namespace focusnet
{

/** \class PlateauScheduler
 * \brief Reduce-learning-rate-on-plateau and early stopping on a monitored loss, as Keras does them.
 *
 * An epoch improves when its loss is below that of the last improvement by more than `threshold` (absolute,
 * Keras' min_delta). After `patience` epochs without improvement the rate is multiplied by `factor` (not below
 * `minimumRate`) and the count restarts. With `stopPatience` > 0, training should stop after that many epochs
 * without improvement. LibTorch 1.13 has no such scheduler. Plain numbers, so its state checkpoints easily.
 */
class PlateauScheduler
{
public:
  struct Options
  {
    double factor{ option::training::PlateauFactor.fallback };
    int    patience{ static_cast<int>(option::training::PlateauPatience.fallback) };
    double threshold{ option::training::PlateauThreshold.fallback };
    double minimumRate{ 0.0 };
    int    stopPatience{ static_cast<int>(option::training::EarlyStopping.fallback) }; ///< 0: never stop early
  };

  struct State
  {
    double rate{ 1e-3 };
    double best{ std::numeric_limits<double>::infinity() };         ///< lowest loss: the checkpoint to keep
    double improvedBest{ std::numeric_limits<double>::infinity() }; ///< loss of the last improvement by > threshold
    int    epochsSinceImprovement{ 0 };
    int    epochsSinceReduction{ 0 }; ///< since the last improvement or reduction
  };

  PlateauScheduler(const Options & options, double initialRate);

  /** Records one epoch's loss. Returns true when this loss is the best so far (a checkpoint to keep). */
  bool
  Step(double loss);

  double
  Rate() const
  {
    return m_State.rate;
  }
  bool
  ShouldStop() const;

  const State &
  GetState() const
  {
    return m_State;
  }
  void
  SetState(const State & state)
  {
    m_State = state;
  }

private:
  Options m_Options;
  State   m_State;
};

} // namespace focusnet

#endif
