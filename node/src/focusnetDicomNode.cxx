/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetDicomNode.h"

#include "focusnetError.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/dstorscu.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace focusnet
{
namespace
{
using Clock = std::chrono::steady_clock;

/** The storage classes the node segments: CT and MR images. */
const char * const ImageClasses[] = {
  UID_CTImageStorage, UID_EnhancedCTImageStorage, UID_LegacyConvertedEnhancedCTImageStorage,
  UID_MRImageStorage, UID_EnhancedMRImageStorage, UID_LegacyConvertedEnhancedMRImageStorage
};

/** What a PACS also sends when it routes everything (our own SEGs among them): accepted and ignored. */
const char * const IgnoredClasses[] = { UID_SegmentationStorage,
                                        UID_SecondaryCaptureImageStorage,
                                        UID_GrayscaleSoftcopyPresentationStateStorage,
                                        UID_BasicTextSRStorage,
                                        UID_EnhancedSRStorage,
                                        UID_ComprehensiveSRStorage,
                                        UID_KeyObjectSelectionDocumentStorage,
                                        UID_EncapsulatedPDFStorage,
                                        UID_RTStructureSetStorage };

/** The transfer syntaxes focusnet segment reads (GDCM decodes the compressed ones). */
const char * const TransferSyntaxes[] = {
  UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
  UID_BigEndianExplicitTransferSyntax,    UID_DeflatedExplicitVRLittleEndianTransferSyntax,
  UID_JPEGProcess14SV1TransferSyntax,     UID_JPEGProcess14TransferSyntax,
  UID_JPEGProcess1TransferSyntax,         UID_JPEGProcess2_4TransferSyntax,
  UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
  UID_JPEGLSLosslessTransferSyntax,       UID_JPEGLSLossyTransferSyntax,
  UID_RLELosslessTransferSyntax
};

bool
IsImageClass(const std::string & sopClass)
{
  return std::find(std::begin(ImageClasses), std::end(ImageClasses), sopClass) != std::end(ImageClasses);
}

/** A UID as a folder or file name: digits and dots only (what DICOM allows), so a sender cannot name a path. */
bool
IsUid(const std::string & text)
{
  return !text.empty() && text.size() <= 64 && text.find_first_not_of("0123456789.") == std::string::npos &&
         text.front() != '.';
}

void
QuietDcmtk()
{
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

std::string
Text(const OFCondition & condition)
{
  return condition.text();
}

/** What the receiving side shares: the spool, who may call, the log. */
struct ReceiverContext
{
  const NodeOptions & options;
  fs::path            incoming, partial;
  std::atomic<long>   received{ 0 };
  std::mutex          logMutex;
  /** Held while an instance is filed under its series and while a series folder moves to done/, so that neither
   * finds the other's folder half made or half gone. */
  std::mutex spoolMutex;

  void
  Log(const std::string & line)
  {
    if (options.log)
    {
      const std::lock_guard<std::mutex> lock(logMutex);
      options.log(line);
    }
  }
};

/** One association: a DcmThreadSCP of the pool, with the context it works in. */
class Receiver : public DcmThreadSCP
{
public:
  explicit Receiver(ReceiverContext & context)
    : m_Context(context)
  {
  }

protected:
  OFBool
  checkCalledAETitleAccepted(const OFString & calledAE) override
  {
    return calledAE == m_Context.options.aeTitle.c_str();
  }

  OFBool
  checkCallingAETitleAccepted(const OFString & callingAE) override
  {
    const std::vector<AllowedCaller> & allow = m_Context.options.allow;
    const std::string                  address = getPeerIP().c_str();
    const bool                         accepted =
      allow.empty() || std::any_of(allow.begin(),
                                   allow.end(),
                                   [&](const AllowedCaller & a)
                                   { return a.aeTitle == callingAE.c_str() && (a.host.empty() || a.host == address); });
    if (!accepted)
    {
      m_Context.Log("refused an association from " + std::string(callingAE.c_str()) + " at " + address +
                    ": not an allowed calling AE title");
    }
    return accepted;
  }

  OFCondition
  handleIncomingCommand(T_DIMSE_Message * message, const DcmPresentationContextInfo & context) override
  {
    if (message->CommandField == DIMSE_C_STORE_RQ)
    {
      return Store(message->msg.CStoreRQ, context.presentationContextID);
    }
    return DcmThreadSCP::handleIncomingCommand(message, context); // C-ECHO, and refusals of the rest
  }

  void
  notifyAssociationTermination() override
  {
    for (const auto & [series, count] : m_Series)
    {
      m_Context.Log("received " + std::to_string(count) + " instance(s) of series " + series + " from " + m_Calling);
    }
    if (m_Ignored > 0)
    {
      m_Context.Log("ignored " + std::to_string(m_Ignored) + " instance(s) that are not CT or MR images from " +
                    m_Calling);
    }
    m_Series.clear();
    m_Ignored = 0;
    DcmThreadSCP::notifyAssociationTermination();
  }

private:
  OFCondition
  Store(T_DIMSE_C_StoreRQ & request, T_ASC_PresentationContextID presentationContext)
  {
    m_Calling = getPeerAETitle().c_str();
    const fs::path partial =
      m_Context.partial / (std::to_string(m_Context.received.fetch_add(1)) + "-" +
                           std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + ".dcm");
    const OFCondition received = receiveSTORERequest(request, presentationContext, OFString(partial.c_str()));
    std::error_code   error;
    if (received.bad())
    {
      fs::remove(partial, error); // an aborted association leaves no partial file
      return received;
    }
    return sendSTOREResponse(presentationContext, request, File(partial, request.AffectedSOPClassUID));
  }

  /** Files a received instance under its study and series; the status of the C-STORE response. */
  Uint16
  File(const fs::path & partial, const std::string & sopClass)
  {
    std::error_code error;
    if (!IsImageClass(sopClass))
    {
      ++m_Ignored;
      fs::remove(partial, error);
      return STATUS_Success;
    }
    DcmFileFormat file;
    OFString      study, series, instance;
    if (file
          .loadFileUntilTag(
            partial.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData)
          .bad() ||
        file.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study).bad() ||
        file.getDataset()->findAndGetOFString(DCM_SeriesInstanceUID, series).bad() ||
        file.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, instance).bad() || !IsUid(study.c_str()) ||
        !IsUid(series.c_str()) || !IsUid(instance.c_str()))
    {
      fs::remove(partial, error);
      m_Context.Log("refused an instance from " + m_Calling + ": no valid study, series and instance UIDs");
      return STATUS_STORE_Error_CannotUnderstand;
    }
    const fs::path                    folder = m_Context.incoming / study.c_str() / series.c_str();
    const std::lock_guard<std::mutex> lock(m_Context.spoolMutex);
    fs::create_directories(folder, error);
    fs::rename(partial, folder / (std::string(instance.c_str()) + ".dcm"), error);
    if (error)
    {
      fs::remove(partial, error);
      m_Context.Log("could not keep an instance of series " + std::string(series.c_str()) + ": " + error.message());
      return STATUS_STORE_Refused_OutOfResources;
    }
    ++m_Series[series.c_str()];
    return STATUS_Success;
  }

  ReceiverContext &                  m_Context;
  std::string                        m_Calling;
  std::map<std::string, std::size_t> m_Series; ///< instances received in this association, by series
  std::size_t                        m_Ignored{ 0 };
};

/** The pool of receivers: at most MaxAssociations at once, each a Receiver on the shared context. */
class ReceiverPool : public DcmBaseSCPPool
{
public:
  explicit ReceiverPool(ReceiverContext & context)
    : m_Context(context)
  {
  }

private:
  struct Worker
    : public DcmBaseSCPWorker
    , private Receiver
  {
    Worker(ReceiverPool & pool, ReceiverContext & context)
      : DcmBaseSCPWorker(pool)
      , Receiver(context)
    {
    }
    OFCondition
    setSharedConfig(const DcmSharedSCPConfig & config) override
    {
      return Receiver::setSharedConfig(config);
    }
    OFBool
    busy() override
    {
      return Receiver::isConnected();
    }
    OFCondition
    workerListen(T_ASC_Association * const association) override
    {
      return Receiver::run(association);
    }
  };

  DcmBaseSCPWorker *
  createSCPWorker() override
  {
    return new Worker(*this, m_Context);
  }

  ReceiverContext & m_Context;
};

void
Configure(DcmSCPConfig & config, const NodeOptions & options)
{
  config.setAETitle(options.aeTitle.c_str());
  config.setPort(static_cast<Uint16>(options.port));
  config.setHostLookupEnabled(OFFalse);
  // Non-blocking with a short timeout, so that the listener notices a stop within a second.
  config.setConnectionBlockingMode(DUL_NOBLOCK);
  config.setConnectionTimeout(1);
  config.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  config.setDIMSETimeout(60);
  config.setACSETimeout(30);
  OFList<OFString> syntaxes;
  for (const char * syntax : TransferSyntaxes)
  {
    syntaxes.push_back(syntax);
  }
  OFList<OFString> uncompressed;
  uncompressed.push_back(UID_LittleEndianExplicitTransferSyntax);
  uncompressed.push_back(UID_LittleEndianImplicitTransferSyntax);
  config.addPresentationContext(UID_VerificationSOPClass, uncompressed);
  for (const char * sopClass : ImageClasses)
  {
    config.addPresentationContext(sopClass, syntaxes);
  }
  for (const char * sopClass : IgnoredClasses)
  {
    config.addPresentationContext(sopClass, syntaxes);
  }
}

/** DcmStorageSCU that keeps the status of each response. */
class Sender : public DcmStorageSCU
{
public:
  Uint16 status{ 0xFFFF }; ///< none yet

protected:
  void
  notifySOPInstanceSent(const TransferEntry & entry) override
  {
    status = entry.RequestSent ? entry.ResponseStatusCode : 0xFFFF;
  }
};

std::string
Hex(unsigned int value)
{
  std::ostringstream text;
  text << "0x" << std::hex << value;
  return text.str();
}

/** An SCU that calls peer as callingAeTitle, with timeouts that bound every wait. */
void
Address(DcmSCU & scu, const std::string & callingAeTitle, const DicomPeer & peer)
{
  scu.setAETitle(callingAeTitle.c_str());
  scu.setPeerAETitle(peer.aeTitle.c_str());
  scu.setPeerHostName(peer.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(peer.port));
  scu.setConnectionTimeout(10);
  scu.setACSETimeout(30);
  scu.setDIMSETimeout(60);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
}

/** Sends file to peer by C-STORE: "" when the peer took it, else why not. */
std::string
SendFile(const fs::path & file, const std::string & callingAeTitle, const DicomPeer & peer)
{
  Sender scu;
  Address(scu, callingAeTitle, peer);
  // The presentation contexts first: initNetwork builds the association's parameters from them.
  OFCondition result = scu.addDicomFile(file.c_str(), ERM_fileOnly, OFFalse);
  if (result.good())
  {
    result = scu.addPresentationContexts();
  }
  if (result.good())
  {
    result = scu.initNetwork();
  }
  if (result.good())
  {
    result = scu.negotiateAssociation();
  }
  if (result.bad())
  {
    return Text(result);
  }
  result = scu.sendSOPInstances();
  scu.releaseAssociation();
  if (result.bad())
  {
    return Text(result);
  }
  // Success, or a warning (0xB...): the peer keeps the instance.
  return scu.status == STATUS_Success || (scu.status & 0xF000) == 0xB000 ? std::string()
                                                                         : "C-STORE status " + Hex(scu.status);
}

/** "delivered-AET@host_port": the file that says peer has the SEG beside it. */
std::string
DeliveredName(const DicomPeer & peer)
{
  std::string name = "delivered-" + peer.aeTitle + "@" + peer.host + "_" + std::to_string(peer.port);
  std::replace_if(
    name.begin(), name.end(), [](char c) { return c == '/' || c == '\\' || c == ':' || c == ' '; }, '_');
  return name;
}

/** The newest modification among a series folder's instances. */
fs::file_time_type
Newest(const fs::path & folder)
{
  std::error_code    error;
  fs::file_time_type newest = fs::last_write_time(folder, error);
  for (const auto & entry : fs::directory_iterator(folder, error))
  {
    newest = std::max(newest, entry.last_write_time(error));
  }
  return newest;
}

/** Moves a series folder from incoming/ to done/ (a folder of the same series there gets a numbered twin). */
void
MoveToDone(const fs::path & series, const fs::path & done)
{
  const fs::path  target = done / series.parent_path().filename() / series.filename();
  std::error_code error;
  fs::create_directories(target.parent_path(), error);
  fs::path free = target;
  for (int n = 2; fs::exists(free, error); ++n)
  {
    free = target.string() + "-" + std::to_string(n);
  }
  fs::rename(series, free, error);
  fs::remove(series.parent_path(), error); // the study folder, once empty
}

/** The work side: complete series to RunBatch, their SEGs to the destinations, retries with back-off. */
class SeriesWork
{
public:
  SeriesWork(const NodeOptions & options, std::shared_ptr<const Model> model, ReceiverContext & context)
    : m_Options(options)
    , m_Model(std::move(model))
    , m_Context(context)
    , m_Spool(options.spool)
  {
  }

  /** Works on every series that is complete and due, until stop is set. */
  void
  Pass(const std::atomic<bool> & stop)
  {
    std::error_code       error;
    std::vector<fs::path> complete;
    for (const auto & study : fs::directory_iterator(m_Spool / "incoming", error))
    {
      for (const auto & series : fs::directory_iterator(study.path(), error))
      {
        const auto   waiting = m_Retry.find(series.path());
        const double idle =
          std::chrono::duration<double>(fs::file_time_type::clock::now() - Newest(series.path())).count();
        if ((waiting == m_Retry.end() || Clock::now() >= waiting->second.next) && idle >= m_Options.idleSeconds)
        {
          complete.push_back(series.path());
        }
      }
    }
    for (std::size_t i = 0; i < complete.size() && !stop; ++i)
    {
      Work(complete[i]);
    }
  }

private:
  struct Retry
  {
    Clock::time_point next;
    double            delay{ 2.0 };
  };

  void
  Work(const fs::path & series)
  {
    BatchOptions batch = m_Options.batch;
    batch.inputRoot = series.string();
    batch.outputRoot = (m_Spool / "results").string();
    if (std::find(batch.formats.begin(), batch.formats.end(), "seg") == batch.formats.end())
    {
      batch.formats.push_back("seg");
    }
    BatchReport report;
    try
    {
      report = RunBatch(batch, m_Model);
    }
    catch (const std::exception & e) // the spool's own trouble (a full disk...): kept, and tried again
    {
      m_Context.Log("series " + series.filename().string() + ": not segmented: " + e.what() + Later(series));
      return;
    }
    bool delivered = true;
    for (const BatchItem & item : report.items)
    {
      const std::string name = "series " + (item.seriesUid.empty() ? series.filename().string() : item.seriesUid);
      m_Context.Log(name + ": " + item.status + (item.reason.empty() ? "" : " (" + item.reason + ")") +
                    (item.slices > 0 ? ", " + std::to_string(item.slices) + " slices" : ""));
      const fs::path  results = m_Spool / "results" / item.outputFolder;
      std::error_code error;
      if (item.outputFolder.empty() || !fs::exists(results / "seg.dcm", error))
      {
        continue;
      }
      for (const DicomPeer & peer : m_Options.sendTo)
      {
        if (fs::exists(results / DeliveredName(peer), error))
        {
          continue; // delivered before a restart
        }
        const std::string why = SendFile(results / "seg.dcm", m_Options.aeTitle, peer);
        if (why.empty())
        {
          std::ofstream(results / DeliveredName(peer)) << peer.Text() << '\n';
          m_Context.Log(name + ": DICOM SEG delivered to " + peer.Text());
        }
        else
        {
          delivered = false;
          m_Context.Log(name + ": DICOM SEG not delivered to " + peer.Text() + ": " + why);
        }
      }
    }
    if (!delivered)
    {
      m_Context.Log("series " + series.filename().string() + ": delivery" + Later(series));
      return;
    }
    m_Retry.erase(series);
    const std::lock_guard<std::mutex> lock(m_Context.spoolMutex);
    MoveToDone(series, m_Spool / "done");
  }

  /** Schedules series for another try after its back-off (2 s, doubling up to 60 s); "; next try in N s". */
  std::string
  Later(const fs::path & series)
  {
    Retry & retry = m_Retry[series];
    retry.next = Clock::now() + std::chrono::milliseconds(static_cast<long>(retry.delay * 1000));
    const std::string when = "; next try in " + ShortestNumber(retry.delay) + " s";
    retry.delay = std::min(retry.delay * 2.0, 60.0);
    return when;
  }

  const NodeOptions &                m_Options;
  const std::shared_ptr<const Model> m_Model;
  ReceiverContext &                  m_Context;
  const fs::path                     m_Spool;
  std::map<fs::path, Retry>          m_Retry;
};

/** Why port cannot be listened on (another program has it...), or "": bound and let go again at once. */
std::string
PortRefusal(unsigned int port)
{
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)); // as DCMTK binds it
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool bound =
    ::bind(socket, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) == 0 && ::listen(socket, 1) == 0;
  const std::string why = bound ? std::string() : std::strerror(errno);
  ::close(socket);
  return why;
}

/** Waits (at most 10 s) until a TCP connection to port on the loopback address is accepted: true once the
 * listener has its port, false when it ended first (it could not listen) or never got it. */
bool
AcceptsConnections(unsigned int port, const std::atomic<bool> & listening)
{
  for (int attempt = 0; attempt < 100 && listening; ++attempt)
  {
    const int   socket = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool connected = ::connect(socket, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) == 0;
    ::close(socket);
    if (connected)
    {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void
CheckAeTitle(const std::string & title, const std::string & what)
{
  if (title.empty() || title.size() > 16 || title.find('\\') != std::string::npos ||
      std::any_of(title.begin(), title.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
  {
    throw Error(what + " '" + title + "' is not an AE title (1 to 16 characters, no backslash)");
  }
}
} // namespace

std::string
DicomPeer::Text() const
{
  return aeTitle + "@" + host + ":" + std::to_string(port);
}

DicomPeer
ParseDicomPeer(const std::string & text)
{
  const std::size_t at = text.find('@');
  const std::size_t colon = text.rfind(':');
  if (at == std::string::npos || colon == std::string::npos || colon < at || at == 0 || colon == at + 1)
  {
    throw Error("'" + text + "' is not a destination AET@host:port");
  }
  DicomPeer peer;
  peer.aeTitle = text.substr(0, at);
  peer.host = text.substr(at + 1, colon - at - 1);
  const std::string port = text.substr(colon + 1);
  if (const std::string refusal = TextRefusal(option::node::Port, port); !refusal.empty())
  {
    throw Error("'" + text + "': " + refusal);
  }
  peer.port = static_cast<unsigned int>(std::stoul(port));
  CheckAeTitle(peer.aeTitle, "'" + text + "':");
  return peer;
}

AllowedCaller
ParseAllowedCaller(const std::string & text)
{
  const std::size_t at = text.find('@');
  AllowedCaller     caller;
  caller.aeTitle = text.substr(0, at);
  caller.host = at == std::string::npos ? std::string() : text.substr(at + 1);
  if (at != std::string::npos && caller.host.empty())
  {
    throw Error("'" + text + "' names no host after '@' (AET or AET@host)");
  }
  CheckAeTitle(caller.aeTitle, "'" + text + "':");
  return caller;
}

void
CheckNodeOptions(const NodeOptions & options)
{
  CheckOption(option::node::Port, options.port);
  CheckOption(option::node::Idle, options.idleSeconds);
  CheckOption(option::node::MaxAssociations, options.maxAssociations);
  CheckAeTitle(options.aeTitle, "the node's AE title");
  if (options.spool.empty())
  {
    throw Error("no spool folder given");
  }
}

void
RunDicomNode(const NodeOptions & options, const std::shared_ptr<const Model> & model, const std::atomic<bool> & stop)
{
  CheckNodeOptions(options);
  CheckInferenceOptions(options.batch.segmentation.inference);
  if (!model)
  {
    throw Error("no model given");
  }
  QuietDcmtk();
  if (const std::string why = PortRefusal(options.port); !why.empty())
  {
    throw Error("port " + std::to_string(options.port) + ": cannot listen: " + why);
  }
  const fs::path  spool = options.spool;
  std::error_code error;
  for (const char * folder : { "incoming", "partial", "results", "done" })
  {
    fs::create_directories(spool / folder, error);
    if (error)
    {
      throw Error((spool / folder).string() + ": cannot create the folder: " + error.message());
    }
  }
  for (const auto & entry : fs::directory_iterator(spool / "partial", error))
  {
    fs::remove(entry.path(), error); // what an interrupted receive left: its sender had no success response
  }

  ReceiverContext context{ options, spool / "incoming", spool / "partial" };
  ReceiverPool    pool(context);
  Configure(pool.getConfig(), options);
  pool.setMaxThreads(static_cast<Uint16>(options.maxAssociations));
  std::atomic<bool> listening{ true };
  OFCondition       listened = EC_Normal;
  std::thread       listener(
    [&]
    {
      listened = pool.listen();
      listening = false;
    });
  // Stops the listener however this function ends. listen() sets its run mode when it starts, so a stop asked for
  // before then would be undone: asked again until the listener has ended.
  const auto stopListening = [&]
  {
    while (listening)
    {
      pool.stopAfterCurrentAssociations();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    listener.join();
  };
  try
  {
    if (!AcceptsConnections(options.port, listening))
    {
      stopListening();
      throw Error("port " + std::to_string(options.port) + ": cannot listen: " + Text(listened));
    }
    context.Log("listening as " + options.aeTitle + " on port " + std::to_string(options.port));
    SeriesWork work(options, model, context);
    while (!stop && listening)
    {
      work.Pass(stop);
      for (int i = 0; i < 5 && !stop && listening; ++i)
      {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  catch (...)
  {
    if (listener.joinable())
    {
      stopListening();
    }
    throw;
  }
  stopListening();
  if (listened.bad() && !stop)
  {
    throw Error("port " + std::to_string(options.port) + ": cannot listen: " + Text(listened));
  }
  context.Log("stopped");
}

std::string
EchoDicomPeer(const std::string & callingAeTitle, const DicomPeer & peer)
{
  QuietDcmtk();
  DcmSCU scu;
  Address(scu, callingAeTitle, peer);
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
  OFCondition result = scu.addPresentationContext(UID_VerificationSOPClass, syntaxes);
  if (result.good())
  {
    result = scu.initNetwork();
  }
  if (result.good())
  {
    result = scu.negotiateAssociation();
  }
  if (result.good())
  {
    result = scu.sendECHORequest(0);
    scu.releaseAssociation();
  }
  return result.good() ? std::string() : Text(result);
}

} // namespace focusnet
