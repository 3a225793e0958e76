/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetBatch_h
#define focusnetBatch_h

#include "focusnetSegmentation.h"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace focusnet
{

class Model;

/** Which part of the series a task of a job array takes: series whose key hashes to index (mod count). */
struct Shard
{
  unsigned int index{ 0 }; ///< 0 .. count-1
  unsigned int count{ 1 };
};

/** Parses "I/N" (0 <= I < N); throws focusnet::Error on anything else. */
Shard
ParseShard(const std::string & text);

/** True when the series with this key belongs to the shard (a stable hash of the key, so every task of an
 * array agrees without talking to the others). */
bool
InShard(const std::string & seriesKey, const Shard & shard);

struct BatchOptions
{
  std::string              inputRoot;
  std::string              outputRoot;
  std::vector<std::string> modalities;               ///< e.g. {"CT"}; empty: every modality
  std::vector<std::string> formats{ "nrrd", "seg" }; ///< label maps: nrrd nii nii.gz mha; DICOM SEG: seg; moreFormats
  /** Further formats by name, written as label.NAME beside the others (the focusnet command adds vti). */
  std::map<std::string, LabelMapWriter> moreFormats;
  Shard                                 shard;
  unsigned int                          jobs{ 1 }; ///< series segmented at once in this process
  bool                                  retryFailed{ false };
  std::string                           modelFileName; ///< recorded in the summaries
  SegmentationOptions                   segmentation;  ///< inference settings; output names are the batch's own
  /** Called while the input is searched: (files examined, files in all). */
  std::function<void(std::size_t, std::size_t)> scanProgress;
  /** Called as series finish: (series done, series in this shard, the one just finished). */
  std::function<void(std::size_t, std::size_t, const std::string &)> progress;
};

/** What happened to one series (or one unreadable file) in a batch run. */
struct BatchItem
{
  std::string   status; ///< ok, partial (label map written, DICOM SEG refused), skipped, failed; missing (MergeBatch)
  std::string   reason;
  std::string   studyUid;
  std::string   seriesUid;
  std::string   modality;
  std::string   description;
  std::string   source;       ///< the folder of the series' first file, or the unreadable file
  std::string   outputFolder; ///< relative to the output root; empty when nothing was written
  std::size_t   files{ 0 };
  std::size_t   slices{ 0 };
  std::uint64_t labelVoxels{ 0 };
  double        volumeMl{ 0.0 };
  double        seconds{ 0.0 };
  /** How far to trust the result: SeriesQuality::Values() by name; empty when nothing was segmented. */
  std::vector<std::pair<std::string, double>> quality;
  std::vector<QualityFlag>                    flags; ///< the result's FlagQuality
};

struct BatchReport
{
  std::vector<BatchItem> items;
  std::string            summaryFileName; ///< the run summary CSV
  std::size_t            otherFiles{ 0 }; ///< files that were not DICOM images
  double                 seconds{ 0.0 };
  std::size_t
  Count(const std::string & status) const;
};

/** Segments every selected DICOM series below options.inputRoot into options.outputRoot/<study>/<series>/
 * (label map, DICOM SEG, summary.json), loading nothing but the given model. A series whose summary.json says it
 * is done is skipped, so an interrupted run continues where it stopped; all files are written atomically. A
 * damaged file or series is reported in the run summary CSV and never stops the run. Throws focusnet::Error only
 * for unusable options or an unreadable input or output root. */
BatchReport
RunBatch(const BatchOptions & options, const std::shared_ptr<const Model> & model);

struct MergeReport : BatchReport
{
  std::vector<std::string> missingShardSummaries; ///< summary-shard-I-of-N.csv absent where others of N exist
};

/** Joins what the tasks of a job array (or several interrupted runs) did: scans options.inputRoot as RunBatch does
 * and reports every series of every shard as its summary.json in options.outputRoot records it, "missing" where
 * no run finished it; options.modalities selects as in the runs. Writes OUTPUT_ROOT/summary.csv (replacing the
 * last one), lists the shard summaries absent, and loads no model. Throws focusnet::Error for a root that is not a
 * folder. */
MergeReport
MergeBatch(const BatchOptions & options);

} // namespace focusnet

#endif
