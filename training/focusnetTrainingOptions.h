/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetTrainingOptions_h
#define focusnetTrainingOptions_h

#include "focusnetOptions.h"

#include <iterator>
#include <string>

namespace focusnet::option::training
{
// focusnet-train's own options, described as the inference options are (focusnetOptions.h): the defaults are the
// paper's protocol (docs/focusnet-paper.md, section 3.2), Train checks every value with its description
// (CheckTrainingOptions) and focusnet-train's flags are made from them. Its device and threads are option::Device and
// option::Threads.
inline constexpr NumericOption Epochs{ "epochs", "epochs", 1, 100000, false, true, 80, 1, "most epochs" };
inline constexpr NumericOption BatchSize{ "batch size", "batch_size", 1, 256, false, true, 8, 1, "batch size" };
inline constexpr NumericOption EpochSize{
  "epoch size", "epoch_size", 0, 1e7, false, true, 0, 1, "augmented samples per epoch (0: the training images)"
};
inline constexpr NumericOption LearningRate{ "learning rate",        "lr", 0, 1, true, false, 1e-3, 1e-4,
                                             "initial learning rate" };
inline constexpr NumericOption Momentum{ "momentum", "momentum", 0, 0.999, false, false, 0.9, 0.01, "SGD momentum" };
inline constexpr NumericOption PlateauFactor{
  "plateau factor", "plateau_factor", 0, 1, true, false, 0.5, 0.05, "learning rate factor on a plateau"
};
inline constexpr NumericOption PlateauPatience{
  "plateau patience", "plateau_patience", 0, 1000, false, true, 5, 1, "epochs without improvement before reducing"
};
inline constexpr NumericOption PlateauThreshold{ "plateau threshold",
                                                 "plateau_threshold",
                                                 0,
                                                 1,
                                                 false,
                                                 false,
                                                 0.001,
                                                 0.001,
                                                 "improvement that counts (validation loss)" };
inline constexpr NumericOption EarlyStopping{
  "early stopping", "early_stopping", 0, 10000, false, true, 0, 1, "stop after N epochs without improvement (0: never)"
};
inline constexpr NumericOption Zoom{ "zoom", "zoom", 0, 0.9, false, false, 0.1, 0.05, "random zoom range" };
inline constexpr NumericOption ChannelShift{
  "channel shift", "channel_shift", 0, 1, false, false, 0.05, 0.01, "RGB random channel shift (standard deviations)"
};
inline constexpr NumericOption ValidationFraction{
  "validation fraction", "val_fraction", 0.01, 0.99, false, false, 0.2, 0.01, "fraction split off for validation"
};

inline constexpr const char * OptimizerNames[] = { "adam", "sgd" };
/** "adam" or "sgd". */
inline bool
IsOptimizerName(const std::string & text)
{
  return text == OptimizerNames[0] || text == OptimizerNames[1];
}
inline constexpr WordOption Optimizer{ "optimizer",
                                       "optimizer",
                                       "adam",
                                       "adam or sgd",
                                       "the optimizer: adam or sgd (Nesterov)",
                                       IsOptimizerName,
                                       OptimizerNames,
                                       std::size(OptimizerNames) };
} // namespace focusnet::option::training

#endif
