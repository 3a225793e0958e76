/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetBatch.h"

#include "focusnetAtomicFile.h"
#include "focusnetDicom.h"
#include "focusnetError.h"
#include "focusnetModel.h"
#include "focusnetVersion.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <locale>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace focusnet
{
namespace
{
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char * SummaryName = "summary.json";
constexpr const char * SegName = "seg.dcm";

std::uint64_t
Fnv1a(const std::string & text)
{
  std::uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char c : text)
  {
    hash = (hash ^ c) * 1099511628211ULL;
  }
  return hash;
}

std::string
Hex(std::uint64_t value, int digits)
{
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return std::string(text + 16 - digits);
}

std::string
Upper(std::string text)
{
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

/** <study>/<series> below the output root; blank UIDs get a name from the series' key. */
std::string
OutputFolder(const DicomSeriesInfo & series)
{
  const std::string study = series.studyUid.empty() ? "no-study-uid" : series.studyUid;
  const std::string name = series.seriesUid.empty() ? "no-series-uid-" + Hex(Fnv1a(series.key), 8) : series.seriesUid;
  return study + "/" + name;
}

std::string
CsvField(const std::string & text)
{
  if (text.find_first_of(",\"\n") == std::string::npos)
  {
    return text;
  }
  std::string quoted = "\"";
  for (const char c : text)
  {
    quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return quoted + "\"";
}

/** A quality value as the CSV writes it: counts whole, ratios to 6 significant digits, nothing for none (NaN). */
std::string
Significant(double value)
{
  if (!std::isfinite(value))
  {
    return {};
  }
  std::ostringstream text;
  text.imbue(std::locale::classic());
  if (value == std::floor(value) && std::abs(value) < 1e15)
  {
    text << static_cast<long long>(value);
  }
  else
  {
    text.precision(6);
    text << value;
  }
  return text.str();
}

/** The names of the quality values, in the order every report lists them. */
std::vector<std::string>
QualityNames()
{
  std::vector<std::string> names;
  for (const auto & entry : SeriesQuality{}.Values())
  {
    names.push_back(entry.first);
  }
  return names;
}

/** The quality signals and flags a series' summary.json records (absent in summaries of older versions). */
void
ReadQuality(const Json & summary, BatchItem & item)
{
  const Json quality = summary.value("quality", Json::object());
  for (const std::string & name : QualityNames())
  {
    if (const auto value = quality.find(name); value != quality.end() && value->is_number())
    {
      item.quality.emplace_back(name, value->get<double>());
    }
  }
  for (const Json & flag : summary.value("flags", Json::array()))
  {
    if (flag.is_object() && flag.value("name", Json()).is_string() && flag.value("reason", Json()).is_string())
    {
      item.flags.push_back({ flag["name"].get<std::string>(), flag["reason"].get<std::string>() });
    }
  }
}

std::string
Fixed(double value, int decimals)
{
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(decimals);
  text << value;
  return text.str();
}

BatchItem
Describe(const DicomSeriesInfo & series)
{
  BatchItem item;
  item.studyUid = series.studyUid;
  item.seriesUid = series.seriesUid;
  item.modality = series.modality;
  item.description = series.description;
  item.source = SeriesFolder(series);
  item.files = series.instances.size();
  item.slices = series.size[2];
  return item;
}

/** The run summary of a shard: summary.csv for the whole, summary-shard-I-of-N.csv for a task of an array. */
std::string
SummaryCsvName(const Shard & shard)
{
  return shard.count == 1
           ? std::string("summary.csv")
           : "summary-shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count) + ".csv";
}

/** True, with the item marked, for a series whose files do not make one volume: failed, naming each file, when files
 * of it are damaged; skipped for its inconsistent geometry otherwise. */
bool
SetAsideForItsFiles(const DicomSeriesInfo & series, BatchItem & item)
{
  if (series.problem.empty())
  {
    return false;
  }
  if (const std::string damaged = DamagedFiles(series); !damaged.empty())
  {
    item.status = "failed";
    item.reason = damaged;
  }
  else
  {
    item.status = "skipped";
    item.reason = "inconsistent geometry: " + series.problem;
  }
  return true;
}

/** The outputs an earlier run recorded as complete, or nothing: "status" and the files listed must exist. */
std::optional<Json>
CompletedSummary(const fs::path & folder)
{
  std::ifstream in(folder / SummaryName);
  if (!in)
  {
    return std::nullopt;
  }
  try
  {
    Json summary = Json::parse(in);
    for (const auto & [kind, name] : summary.at("outputs").items())
    {
      if (!fs::exists(folder / name.get<std::string>()))
      {
        return std::nullopt;
      }
    }
    summary.at("status").get<std::string>();
    return summary;
  }
  catch (const std::exception &)
  {
    return std::nullopt; // a summary we cannot read does not count as done
  }
}

class BatchRun
{
public:
  BatchRun(const BatchOptions & options, const std::shared_ptr<const Model> & model)
    : m_Options(options)
    , m_Model(model)
  {
    for (const std::string & format : options.formats)
    {
      if (format == "seg")
      {
        m_WriteSeg = true;
      }
      else if (format == "nrrd" || format == "nii" || format == "nii.gz" || format == "mha")
      {
        if (!m_LabelFormat.empty())
        {
          throw Error("choose one label map format, not " + m_LabelFormat + " and " + format);
        }
        m_LabelFormat = format;
      }
      else if (options.moreFormats.count(format) != 0)
      {
        m_MoreFormats.push_back(format);
      }
      else
      {
        std::string known = "nrrd, nii, nii.gz, mha";
        for (const auto & more : options.moreFormats)
        {
          known += ", " + more.first;
        }
        throw Error("unknown output format '" + format + "' (use one of " + known + ", and/or seg)");
      }
    }
    if (m_LabelFormat.empty() && !m_WriteSeg && m_MoreFormats.empty())
    {
      throw Error("no output format given");
    }
    m_ModelJson = { { "file", options.modelFileName },
                    { "architecture", model->Metadata().architecture.name },
                    { "weights_crc32", Hex(model->WeightsChecksum(), 8) } };
  }

  BatchItem
  Process(const DicomSeriesInfo & series) const
  {
    const auto start = std::chrono::steady_clock::now();
    BatchItem  item = Describe(series);
    if (SetAsideForItsFiles(series, item))
    {
      return item;
    }
    item.outputFolder = OutputFolder(series);
    const fs::path folder = fs::path(m_Options.outputRoot) / item.outputFolder;
    if (const auto done = CompletedSummary(folder))
    {
      const std::string status = (*done)["status"].get<std::string>();
      if (status != "failed" || !m_Options.retryFailed)
      {
        const bool sameModel = done->contains("model") && (*done)["model"].value("weights_crc32", "") ==
                                                            m_ModelJson["weights_crc32"].get<std::string>();
        item.status = "skipped";
        item.reason = "done in an earlier run (" + status + ")" +
                      (sameModel ? "" : " with another model; remove the folder to segment it again");
        ReadQuality(*done, item); // the run's summary lists what to check in every series, this run's or not
        return item;
      }
    }

    Json outputs = Json::object();
    Json sliceQuality = Json::object(); // each signal's values, slice by slice
    Json sliceFlags = Json::array();    // each slice's flag names, as summary.csv writes a series' flags
    try
    {
      std::error_code error;
      fs::create_directories(folder, error);
      if (!fs::is_directory(folder))
      {
        throw Error(folder.string() + ": cannot create the output folder");
      }
      RemovePartialFiles(folder.string());
      SegmentationOptions options = m_Options.segmentation;
      // Files of an interrupted attempt (no summary yet) are this run's own: replace them.
      options.overwrite = true;
      options.seriesUid.clear();
      options.probabilityFileName.clear();
      options.uncertaintyFileName.clear();
      options.overlayFileName.clear();
      options.progress = nullptr;
      const ImageSource source = ToImageSource(series);
      std::string       segRefusal;
      if (m_WriteSeg)
      {
        // The scan read every header already: whether a SEG can reference them needs no more IO.
        if (const std::string refusal = DicomSegmentationRefusal(source); !refusal.empty())
        {
          segRefusal = "DICOM SEG refused: " + refusal;
        }
        if (segRefusal.empty())
        {
          options.dicomSegmentationFileName = (folder / SegName).string();
          options.dicomSegmentation.modelName = fs::path(m_Options.modelFileName).filename().string();
          outputs["dicom_seg"] = SegName;
        }
      }
      for (const std::string & format : m_MoreFormats)
      {
        const std::string name = "label." + format;
        options.labelMapOutputs.push_back({ (folder / name).string(), m_Options.moreFormats.at(format) });
        outputs[format] = name;
      }
      if (m_LabelFormat.empty() && options.dicomSegmentationFileName.empty() && m_MoreFormats.empty())
      {
        throw Error(segRefusal);
      }
      const std::string label = m_LabelFormat.empty() ? std::string() : "label." + m_LabelFormat;
      if (!label.empty())
      {
        outputs["label_map"] = label;
      }
      const SegmentationResult result =
        SegmentImageSource(source, label.empty() ? std::string() : (folder / label).string(), m_Model, options);
      item.labelVoxels = result.labelVoxels;
      item.volumeMl = result.labelVolumeMm3 / 1000.0;
      item.quality = result.quality.Values();
      item.flags = result.flags;
      const QualityReference & reference = m_Model->Metadata().quality;
      for (const SliceQuality & slice : result.sliceQuality)
      {
        const SeriesQuality alone = SummarizeSlice(slice, reference);
        for (const auto & [name, value] : alone.Values())
        {
          sliceQuality[name].push_back(value);
        }
        // The flags the slice earns as an image of its own, but no-target: a volume's slices past the organ have none.
        std::vector<QualityFlag> flags = FlagQuality(alone, reference, {}, m_Model->Metadata().label.name);
        flags.erase(std::remove_if(flags.begin(),
                                   flags.end(),
                                   [](const QualityFlag & flag) { return flag.name == QualityFlagNames[0]; }),
                    flags.end());
        sliceFlags.push_back(FlagNames(flags));
      }
      item.status = segRefusal.empty() ? "ok" : "partial";
      item.reason = segRefusal;
    }
    catch (const std::exception & e)
    {
      item.status = "failed";
      item.reason = e.what();
    }
    item.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (item.status == "failed")
    {
      outputs = Json::object();
      item.quality.clear();
      item.flags.clear();
      sliceQuality = Json::object();
      sliceFlags = Json::array();
    }
    WriteSummary(folder, series, item, outputs, sliceQuality, sliceFlags);
    return item;
  }

private:
  void
  WriteSummary(const fs::path &        folder,
               const DicomSeriesInfo & series,
               BatchItem &             item,
               const Json &            outputs,
               const Json &            sliceQuality,
               const Json &            sliceFlags) const
  {
    Json quality = Json::object();
    for (const auto & [name, value] : item.quality)
    {
      quality[name] = value;
    }
    Json flags = Json::array();
    for (const QualityFlag & flag : item.flags)
    {
      flags.push_back({ { "name", flag.name }, { "reason", flag.reason } });
    }
    Json summary = { { "status", item.status },
                     { "errors", item.reason.empty() ? Json::array() : Json::array({ item.reason }) },
                     { "study_uid", series.studyUid },
                     { "series_uid", series.seriesUid },
                     { "modality", series.modality },
                     { "description", series.description },
                     { "source_folder", item.source },
                     { "source_files", series.instances.size() },
                     { "size", series.size },
                     { "spacing_mm", series.spacing },
                     { "transfer_syntax", series.transferSyntaxUid },
                     { "voxel_count", item.labelVoxels },
                     { "volume_ml", item.volumeMl },
                     { "seconds", item.seconds },
                     { "flags", flags },
                     { "quality", quality },
                     { "slice_quality", sliceQuality },
                     { "slice_flags", sliceFlags },
                     { "outputs", outputs },
                     { "model", m_ModelJson },
                     { "focusnet_version", Version } };
    try
    {
      if (fs::is_directory(folder))
      {
        WriteTextAtomically((folder / SummaryName).string(), summary.dump(2) + "\n");
      }
    }
    catch (const Error & e)
    {
      item.status = "failed";
      item.reason = e.what();
    }
  }

  const BatchOptions &                 m_Options;
  const std::shared_ptr<const Model> & m_Model;
  std::string                          m_LabelFormat;
  std::vector<std::string>             m_MoreFormats;
  bool                                 m_WriteSeg{ false };
  Json                                 m_ModelJson;
};

/** The series of the scan to segment: those of the shard (all with shard null) and of the wanted modalities. The
 * others of the shard, and its unreadable files, are added to items as skipped and failed. */
std::vector<const DicomSeriesInfo *>
Select(const DicomScan & scan, const BatchOptions & options, const Shard * shard, std::vector<BatchItem> & items)
{
  std::vector<const DicomSeriesInfo *> selected;
  for (const DicomSeriesInfo & series : scan.series)
  {
    if (shard != nullptr && !InShard(series.key, *shard))
    {
      continue;
    }
    const auto & wanted = options.modalities;
    if (!wanted.empty() && std::none_of(wanted.begin(),
                                        wanted.end(),
                                        [&](const std::string & m) { return Upper(m) == Upper(series.modality); }))
    {
      BatchItem item = Describe(series);
      item.status = "skipped";
      item.reason = "modality " + (series.modality.empty() ? std::string("(none)") : series.modality) + " not selected";
      items.push_back(item);
      continue;
    }
    selected.push_back(&series);
  }
  for (const UnreadableFile & file : scan.unreadable)
  {
    if (shard == nullptr || InShard(file.path, *shard))
    {
      BatchItem item;
      item.status = "failed";
      item.reason = file.reason;
      item.source = file.path;
      items.push_back(item);
    }
  }
  return selected;
}

void
WriteRunSummary(const std::string & fileName, const std::vector<BatchItem> & items)
{
  std::ostringstream             csv;
  const std::vector<std::string> quality = QualityNames();
  csv << "status,reason,study_uid,series_uid,modality,description,source,output_folder,files,slices,voxel_count,"
         "volume_ml,seconds";
  for (const std::string & name : quality)
  {
    csv << ',' << name;
  }
  csv << ",flags\n";
  for (const BatchItem & i : items)
  {
    csv << i.status << ',' << CsvField(i.reason) << ',' << i.studyUid << ',' << i.seriesUid << ','
        << CsvField(i.modality) << ',' << CsvField(i.description) << ',' << CsvField(i.source) << ','
        << CsvField(i.outputFolder) << ',' << i.files << ',' << i.slices << ',' << i.labelVoxels << ','
        << Fixed(i.volumeMl, 3) << ',' << Fixed(i.seconds, 2);
    for (const std::string & name : quality)
    {
      const auto value =
        std::find_if(i.quality.begin(), i.quality.end(), [&](const auto & v) { return v.first == name; });
      csv << ',' << (value == i.quality.end() ? std::string() : Significant(value->second));
    }
    csv << ',' << FlagNames(i.flags) << '\n';
  }
  WriteTextAtomically(fileName, csv.str());
}
} // namespace

Shard
ParseShard(const std::string & text)
{
  Shard              shard;
  std::istringstream in(text);
  char               slash = 0;
  long long          index = -1, count = -1;
  if (!(in >> index >> slash >> count) || slash != '/' || !in.eof() || count < 1 || index < 0 || index >= count)
  {
    throw Error("'" + text + "' is not a shard I/N with 0 <= I < N (e.g. 0/4, the first of 4)");
  }
  shard.index = static_cast<unsigned int>(index);
  shard.count = static_cast<unsigned int>(count);
  return shard;
}

bool
InShard(const std::string & seriesKey, const Shard & shard)
{
  return Fnv1a(seriesKey) % shard.count == shard.index;
}

std::size_t
BatchReport::Count(const std::string & status) const
{
  return static_cast<std::size_t>(
    std::count_if(items.begin(), items.end(), [&](const BatchItem & i) { return i.status == status; }));
}

BatchReport
RunBatch(const BatchOptions & options, const std::shared_ptr<const Model> & model)
{
  const auto start = std::chrono::steady_clock::now();
  if (!model)
  {
    throw Error("no model given");
  }
  if (options.shard.count < 1 || options.shard.index >= options.shard.count)
  {
    throw Error("bad shard " + std::to_string(options.shard.index) + "/" + std::to_string(options.shard.count));
  }
  CheckInferenceOptions(options.segmentation.inference);
  CheckThreshold(options.segmentation.threshold);
  std::error_code error;
  if (!fs::is_directory(options.inputRoot, error))
  {
    throw Error(options.inputRoot + ": not a folder");
  }
  // The output may not lie inside the input: a later run would find its own files among the studies.
  const fs::path input = fs::weakly_canonical(options.inputRoot, error);
  const fs::path output = fs::weakly_canonical(options.outputRoot, error);
  const auto     mismatch = std::mismatch(input.begin(), input.end(), output.begin(), output.end());
  if (mismatch.first == input.end())
  {
    throw Error(options.outputRoot + ": the output folder must not be inside the input folder " + options.inputRoot);
  }
  // Series run in parallel jobs, each with its share of the LibTorch threads.
  BatchOptions perJob = options;
  if (options.jobs > 1)
  {
    const int threads = options.segmentation.inference.threads > 0
                          ? options.segmentation.inference.threads
                          : static_cast<int>(std::thread::hardware_concurrency());
    perJob.segmentation.inference.threads = std::max(1, threads / static_cast<int>(options.jobs));
  }
  const BatchRun run(perJob, model); // checks the formats: before the output folder is made
  fs::create_directories(options.outputRoot, error);
  if (!fs::is_directory(options.outputRoot))
  {
    throw Error(options.outputRoot + ": cannot create the output folder");
  }

  const DicomScan scan = ScanDicomTree(options.inputRoot, options.scanProgress);
  BatchReport     report;
  report.otherFiles = scan.otherFiles;
  const std::vector<const DicomSeriesInfo *> selected = Select(scan, options, &options.shard, report.items);

  std::vector<BatchItem>   results(selected.size());
  std::atomic<std::size_t> next{ 0 };
  std::size_t              finished = 0;
  std::mutex               mutex;
  const unsigned int       jobs = std::max(1U, std::min<unsigned int>(options.jobs, selected.size()));
  auto                     work = [&]
  {
    for (std::size_t k = next++; k < selected.size(); k = next++)
    {
      results[k] = run.Process(*selected[k]);
      std::lock_guard<std::mutex> lock(mutex);
      ++finished;
      if (options.progress)
      {
        const BatchItem & r = results[k];
        options.progress(finished, selected.size(), r.seriesUid + " " + r.status);
      }
    }
  };
  std::vector<std::thread> workers;
  for (unsigned int j = 1; j < jobs; ++j)
  {
    workers.emplace_back(work);
  }
  work();
  for (std::thread & worker : workers)
  {
    worker.join();
  }

  report.items.insert(report.items.begin(), results.begin(), results.end());
  report.summaryFileName = (fs::path(options.outputRoot) / SummaryCsvName(options.shard)).string();
  WriteRunSummary(report.summaryFileName, report.items);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

MergeReport
MergeBatch(const BatchOptions & options)
{
  const auto      start = std::chrono::steady_clock::now();
  std::error_code error;
  for (const std::string & root : { options.inputRoot, options.outputRoot })
  {
    if (!fs::is_directory(root, error))
    {
      throw Error(root + ": not a folder");
    }
  }
  const DicomScan scan = ScanDicomTree(options.inputRoot, options.scanProgress);
  MergeReport     report;
  report.otherFiles = scan.otherFiles;
  for (const DicomSeriesInfo * series : Select(scan, options, nullptr, report.items))
  {
    BatchItem item = Describe(*series);
    if (!SetAsideForItsFiles(*series, item))
    {
      item.outputFolder = OutputFolder(*series);
      if (const auto done = CompletedSummary(fs::path(options.outputRoot) / item.outputFolder))
      {
        item.status = (*done)["status"].get<std::string>();
        const Json & errors = (*done)["errors"];
        item.reason = errors.empty() ? std::string() : errors.front().get<std::string>();
        item.labelVoxels = (*done).value("voxel_count", std::uint64_t{ 0 });
        item.volumeMl = (*done).value("volume_ml", 0.0);
        item.seconds = (*done).value("seconds", 0.0);
        ReadQuality(*done, item);
      }
      else
      {
        item.status = "missing";
        item.reason = "no run has finished it (no complete summary.json)";
        item.outputFolder.clear();
      }
    }
    report.items.push_back(item);
  }

  // The arrays' task summaries: for each N, the shards I of N that wrote none.
  std::map<unsigned int, std::set<unsigned int>> shards;
  for (const auto & entry : fs::directory_iterator(options.outputRoot, error))
  {
    unsigned int index = 0, count = 0;
    char         end = 0;
    if (std::sscanf(entry.path().filename().string().c_str(), "summary-shard-%u-of-%u.cs%c", &index, &count, &end) ==
          3 &&
        end == 'v' && index < count)
    {
      shards[count].insert(index);
    }
  }
  for (const auto & [count, written] : shards)
  {
    for (unsigned int index = 0; index < count; ++index)
    {
      if (written.count(index) == 0)
      {
        report.missingShardSummaries.push_back(SummaryCsvName({ index, count }));
      }
    }
  }
  report.summaryFileName = (fs::path(options.outputRoot) / SummaryCsvName({})).string();
  WriteRunSummary(report.summaryFileName, report.items);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

} // namespace focusnet
