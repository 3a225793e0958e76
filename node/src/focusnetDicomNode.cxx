/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#include "focusnetDicomNode.h"

#include "focusnetAtomicFile.h"
#include "focusnetError.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/dstorscu.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <dcmtk/oflog/oflog.h>
#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <random>
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
using Json = nlohmann::ordered_json;

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
  std::atomic<long>   received{ 0 }; ///< C-STORE requests, for the names of partial files
  /** Counts for status.json: instances kept, ignored (not CT or MR images), refused; associations refused. */
  std::atomic<std::size_t> filed{ 0 }, ignored{ 0 }, refused{ 0 }, refusedAssociations{ 0 };
  std::mutex               logMutex;
  /** Held while an instance is filed under its series and while a series folder moves on, so that neither finds the
   * other's folder half made or half gone; also guards openSeries. */
  std::mutex spoolMutex;
  /** Series UID -> associations still open that filed instances of it: such a series is not complete yet. */
  std::map<std::string, int> openSeries;

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
      ++m_Context.refusedAssociations;
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
    {
      const std::lock_guard<std::mutex> lock(m_Context.spoolMutex);
      for (const auto & entry : m_Series)
      {
        if (--m_Context.openSeries[entry.first] <= 0)
        {
          m_Context.openSeries.erase(entry.first);
        }
      }
    }
    for (const auto & [series, count] : m_Series)
    {
      m_Context.Log("received " + std::to_string(count) + " instance(s) of series " + series + " from " + m_Calling);
    }
    if (m_Ignored > 0)
    {
      m_Context.Log("ignored " + std::to_string(m_Ignored) + " instance(s) that are not CT or MR images from " +
                    m_Calling);
    }
    if (m_RefusedForSpace > 0)
    {
      m_Context.Log("refused " + std::to_string(m_RefusedForSpace) + " instance(s) from " + m_Calling + ": less than " +
                    ShortestNumber(m_Context.options.minFreeMegabytes) + " MB free in the spool");
    }
    m_Series.clear();
    m_Ignored = 0;
    m_RefusedForSpace = 0;
    DcmThreadSCP::notifyAssociationTermination();
  }

private:
  OFCondition
  Store(T_DIMSE_C_StoreRQ & request, T_ASC_PresentationContextID presentationContext)
  {
    m_Calling = getPeerAETitle().c_str();
    if (LowOnSpace())
    {
      // Out of resources, the standard way: the instance is read (the protocol sends it anyway), into memory since the
      // disk is short (not into /dev/null: DCMTK removes the file of a receive that fails), and not kept.
      DcmDataset *      dataset = nullptr;
      const OFCondition received = receiveSTORERequest(request, presentationContext, dataset);
      delete dataset;
      if (received.bad())
      {
        return received;
      }
      ++m_RefusedForSpace;
      ++m_Context.refused;
      return sendSTOREResponse(presentationContext, request, STATUS_STORE_Refused_OutOfResources);
    }
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

  /** Whether the spool's disk has less free space than options.minFreeMegabytes. */
  bool
  LowOnSpace() const
  {
    std::error_code      error;
    const fs::space_info space = fs::space(m_Context.partial, error);
    return error || static_cast<double>(space.available) < m_Context.options.minFreeMegabytes * 1024.0 * 1024.0;
  }

  /** Files a received instance under its study and series; the status of the C-STORE response. */
  Uint16
  File(const fs::path & partial, const std::string & sopClass)
  {
    std::error_code error;
    if (!IsImageClass(sopClass))
    {
      ++m_Ignored;
      ++m_Context.ignored;
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
      ++m_Context.refused;
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
      ++m_Context.refused;
      m_Context.Log("could not keep an instance of series " + std::string(series.c_str()) + ": " + error.message());
      return STATUS_STORE_Refused_OutOfResources;
    }
    if (m_Series[series.c_str()]++ == 0)
    {
      ++m_Context.openSeries[series.c_str()];
    }
    ++m_Context.filed;
    return STATUS_Success;
  }

  ReceiverContext &                  m_Context;
  std::string                        m_Calling;
  std::map<std::string, std::size_t> m_Series; ///< instances received in this association, by series
  std::size_t                        m_Ignored{ 0 };
  std::size_t                        m_RefusedForSpace{ 0 };
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
  // The listener reads each association request (and makes the TLS handshake) itself: a caller that connects and
  // says nothing holds up the others for at most this long.
  config.setACSETimeout(10);
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

/** A DcmSCU, or a class derived from it, addressed to a peer (DcmSCU keeps the TLS layer's setter protected). */
template <typename TScu>
class Scu : public TScu
{
public:
  /** Calls peer as callingAeTitle (over tls, when given), with timeouts that bound every wait. */
  void
  Address(const std::string & callingAeTitle, const DicomPeer & peer, DcmTransportLayer * tls)
  {
    m_Tls = tls;
    this->setAETitle(callingAeTitle.c_str());
    this->setPeerAETitle(peer.aeTitle.c_str());
    this->setPeerHostName(peer.host.c_str());
    this->setPeerPort(static_cast<Uint16>(peer.port));
    this->setConnectionTimeout(10);
    this->setACSETimeout(30);
    this->setDIMSETimeout(60);
    this->setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  }

  /** Negotiates the association, once the presentation contexts are added. */
  OFCondition
  Open()
  {
    OFCondition result = this->initNetwork();
    if (result.good() && m_Tls)
    {
      result = this->useSecureConnection(m_Tls); // needs the network initNetwork makes
    }
    return result.good() ? this->negotiateAssociation() : result;
  }

private:
  DcmTransportLayer * m_Tls{ nullptr };
};

/** DcmStorageSCU that keeps the status of each response. */
class Sender : public Scu<DcmStorageSCU>
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
Hex(unsigned long long value)
{
  std::ostringstream text;
  text << "0x" << std::hex << value;
  return text.str();
}

/** The TLS layer of the node's associations (in the role of an acceptor or a requestor), or none without
 * options.tlsKey: the node's key and certificate, the peers' certificates it trusts (each peer must show one signed by
 * them), the ciphersuites of BCP 195 (TLS 1.2 and newer). Throws focusnet::Error naming the file that is wrong. */
std::unique_ptr<DcmTLSTransportLayer>
MakeTls(const NodeOptions & options, T_ASC_NetworkRole role)
{
  if (options.tlsKey.empty())
  {
    return nullptr;
  }
  auto tls = std::make_unique<DcmTLSTransportLayer>(role, nullptr, OFTrue);
  if (!*tls)
  {
    throw Error("TLS: OpenSSL could not be initialised");
  }
  if (tls->setPrivateKeyFile(options.tlsKey.c_str(), DCF_Filetype_PEM).bad())
  {
    throw Error(options.tlsKey + ": not a PEM private key (without a password)");
  }
  if (tls->setCertificateFile(options.tlsCertificate.c_str(), DCF_Filetype_PEM).bad())
  {
    throw Error(options.tlsCertificate + ": not a PEM certificate");
  }
  if (!tls->checkPrivateKeyMatchesCertificate())
  {
    throw Error(options.tlsKey + ": not the private key of the certificate " + options.tlsCertificate);
  }
  for (const std::string & trusted : options.tlsTrusted)
  {
    if (tls->addTrustedCertificateFile(trusted.c_str(), DCF_Filetype_PEM).bad())
    {
      throw Error(trusted + ": not a PEM certificate");
    }
  }
  tls->setCertificateVerification(DCV_requireCertificate);
  if (tls->setTLSProfile(TSP_Profile_BCP195).bad() || tls->activateCipherSuites().bad())
  {
    throw Error("TLS: the ciphersuites of BCP 195 are not available");
  }
  return tls;
}

/** Sends file to peer by C-STORE (over tls, when given): "" when the peer took it, else why not. */
std::string
SendFile(const fs::path & file, const std::string & callingAeTitle, const DicomPeer & peer, DcmTransportLayer * tls)
{
  Sender scu;
  scu.Address(callingAeTitle, peer, tls);
  // The presentation contexts first: Open builds the association's parameters from them.
  OFCondition result = scu.addDicomFile(file.c_str(), ERM_fileOnly, OFFalse);
  if (result.good())
  {
    result = scu.addPresentationContexts();
  }
  if (result.good())
  {
    result = scu.Open();
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

/** What an HTTP request got: the status (0 when none came) and the answer's body, or why it failed. */
struct HttpAnswer
{
  long        status{ 0 };
  std::string body;
  std::string error; ///< libcurl's words when no answer came
};

/** A GET (body null) or a POST of body to url, with headers; every wait bounded (10 s to connect, 120 s in all). */
/** libcurl's global set-up, once, before any thread of the node's uses it (it is not thread-safe). */
void
InitializeCurl()
{
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpAnswer
Http(const std::string & url, const std::vector<std::string> & headerLines, const std::string * body)
{
  InitializeCurl();
  const std::unique_ptr<CURL, void (*)(CURL *)> curl(curl_easy_init(), curl_easy_cleanup);
  curl_slist *                                  headers = nullptr;
  for (const std::string & line : headerLines)
  {
    headers = curl_slist_append(headers, line.c_str());
  }
  const std::unique_ptr<curl_slist, void (*)(curl_slist *)> freeHeaders(headers, curl_slist_free_all);
  HttpAnswer                                                answer;
  const auto collect = +[](char * data, std::size_t size, std::size_t count, void * to) -> std::size_t
  {
    static_cast<std::string *>(to)->append(data, size * count);
    return size * count;
  };
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  if (body)
  {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 120L);
  if (const CURLcode done = curl_easy_perform(curl.get()); done != CURLE_OK)
  {
    answer.error = curl_easy_strerror(done);
    return answer;
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

/** Stores file on a DICOMweb server by STOW-RS (url: its studies endpoint): "" when the server took it, else why not.
 */
std::string
StowFile(const fs::path & file, const std::string & url)
{
  std::ifstream in(file, std::ios::binary);
  if (!in)
  {
    return "cannot read " + file.string();
  }
  std::random_device random;
  const std::string  boundary = "focusnet-" + Hex(random()) + Hex(random()) + Hex(random());
  std::string        body = "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n";
  body.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  body += "\r\n--" + boundary + "--\r\n";
  const HttpAnswer answer = Http(url,
                                 { "Content-Type: multipart/related; type=\"application/dicom\"; boundary=" + boundary,
                                   "Accept: application/dicom+json",
                                   "Expect:" }, // no 100-continue: some servers never answer it
                                 &body);
  if (!answer.error.empty())
  {
    return answer.error;
  }
  // 200: stored. 202: stored with warnings, or some instances failed; for one instance, failed when the answer lists
  // it in the Failed SOP Sequence (0008,1198).
  if (answer.status == 200 || (answer.status == 202 && answer.body.find("00081198") == std::string::npos))
  {
    return "";
  }
  return "STOW-RS answered HTTP " + std::to_string(answer.status);
}

/** "DICOMweb" URLs start with http:// or https://; anything else is a DICOM application entity. */
bool
IsStowUrl(const std::string & destination)
{
  return destination.rfind("http://", 0) == 0 || destination.rfind("https://", 0) == 0;
}

/** path, or path-2, path-3...: the first of them that does not exist. */
fs::path
FreeName(const fs::path & path)
{
  std::error_code error;
  fs::path        free = path;
  for (int n = 2; fs::exists(free, error); ++n)
  {
    free = path.string() + "-" + std::to_string(n);
  }
  return free;
}

/** A destination as part of a file name: "AET@host_port", "http___host_8042_dicom-web_studies". */
std::string
FileNamePart(std::string destination)
{
  std::replace_if(
    destination.begin(),
    destination.end(),
    [](char c) { return !std::isalnum(static_cast<unsigned char>(c)) && c != '@' && c != '.' && c != '-'; },
    '_');
  return destination;
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

/** Moves the files of folder into target (made if need be). A file of the same name in target is the same instance
 * (its SOP Instance UID): with keepTarget the copy in target stays, else the moved one replaces it. Stops at the first
 * file it cannot move, so nothing is lost; folder and its parent (the study folder) are removed once empty. Returns
 * "" or why not. */
std::string
MoveInto(const fs::path & folder, const fs::path & target, bool keepTarget)
{
  std::error_code error;
  fs::create_directories(target, error);
  if (error)
  {
    return target.string() + ": " + error.message();
  }
  std::vector<fs::path> files;
  for (auto entry = fs::directory_iterator(folder, error); !error && entry != fs::directory_iterator();
       entry.increment(error))
  {
    files.push_back(entry->path());
  }
  for (const fs::path & file : files)
  {
    const fs::path moved = target / file.filename();
    if (keepTarget && fs::exists(moved, error))
    {
      fs::remove(file, error);
    }
    else
    {
      fs::rename(file, moved, error);
    }
    if (error)
    {
      return file.string() + ": " + error.message();
    }
  }
  fs::remove(folder, error); // only when empty
  fs::remove(folder.parent_path(), error);
  return "";
}

std::size_t
CountFiles(const fs::path & folder)
{
  std::error_code error;
  std::size_t     count = 0;
  for (auto entry = fs::directory_iterator(folder, error); !error && entry != fs::directory_iterator(); ++entry)
  {
    ++count;
  }
  return count;
}

/** UTC, to the second: "2026-12-05T08:30:00Z". */
std::string
UtcText(std::chrono::system_clock::time_point when)
{
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm           utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

/** One DICOM SEG owed to one destination. Kept as outbox/NAME.json until the destination has it, so that a restart
 * goes on delivering; the file also says how often it was tried and why it failed. */
struct Delivery
{
  fs::path          file;
  std::string       seg; ///< relative to the spool: results/STUDY/SERIES/seg.dcm
  std::string       series;
  std::string       destination;    ///< "AET@host:port", or a STOW-RS URL
  bool              saved{ false }; ///< file written (so that one gone was removed by the operator)
  unsigned int      attempts{ 0 };
  std::string       error;
  Clock::time_point next{};
  double            delay{ 2.0 };

  Json
  ToJson() const
  {
    return { { "seg", seg },
             { "series", series },
             { "destination", destination },
             { "attempts", attempts },
             { "last_error", error } };
  }
};

/** The work side, on the spool's folders: series complete in incoming/ move to working/ (so that instances arriving
 * meanwhile start a new folder), RunBatch segments them, their SEGs go to the outbox, the instances to done/; the
 * outbox is delivered with back-off; status.json says where everything stands. */
class SeriesWork
{
public:
  SeriesWork(const NodeOptions & options, std::shared_ptr<const Model> model, ReceiverContext & context)
    : m_Options(options)
    , m_Model(std::move(model))
    , m_Context(context)
    , m_Spool(options.spool)
    , m_Started(fs::file_time_type::clock::now())
    , m_StartedText(UtcText(std::chrono::system_clock::now()))
    , m_Tls(MakeTls(options, NET_REQUESTOR))
  {
    for (const DicomPeer & peer : options.sendTo)
    {
      m_Destinations.push_back(peer.Text());
    }
    m_Destinations.insert(m_Destinations.end(), options.stow.begin(), options.stow.end());
    LoadOutbox();
    LoadHistory();
  }

  /** Segments every series that is complete, delivers what is due, and updates status.json; until stop is set. */
  void
  Pass(const std::atomic<bool> & stop)
  {
    try
    {
      if (!stop && Clock::now() >= m_SegmentRetry.next)
      {
        ClaimComplete();
        SegmentWorking();
        WriteStatus();
      }
      DeliverDue(stop);
      WriteStatus();
    }
    catch (const std::exception & e) // the spool's own trouble: nothing is lost, the work goes on after a while
    {
      Problem(std::string("the work stopped: ") + e.what() + Later());
    }
  }

private:
  struct Retry
  {
    Clock::time_point next;
    double            delay{ 2.0 };
  };

  /** Moves each series of incoming/ that had no new instance for the idle time (counted from the node's start at the
   * earliest, so that a sender cut off by a restart can send the rest), and that no open association sends, to
   * working/. */
  void
  ClaimComplete()
  {
    const auto now = fs::file_time_type::clock::now();
    for (const fs::path & series : SeriesFolders("incoming"))
    {
      const double idle = std::chrono::duration<double>(now - std::max(Newest(series), m_Started)).count();
      if (idle < m_Options.idleSeconds)
      {
        continue;
      }
      const std::lock_guard<std::mutex> lock(m_Context.spoolMutex);
      if (m_Context.openSeries.count(series.filename().string()) == 0)
      {
        const std::string why =
          MoveInto(series, m_Spool / "working" / series.parent_path().filename() / series.filename(), false);
        if (!why.empty())
        {
          throw Error("series " + series.filename().string() + " not moved to working/: " + why);
        }
      }
    }
  }

  /** The series folders below SPOOL/stage/ (STUDY/SERIES). */
  std::vector<fs::path>
  SeriesFolders(const char * stage) const
  {
    std::vector<fs::path> folders;
    std::error_code       error;
    for (auto study = fs::directory_iterator(m_Spool / stage, error); !error && study != fs::directory_iterator();
         study.increment(error))
    {
      std::error_code inner;
      for (auto series = fs::directory_iterator(study->path(), inner); !inner && series != fs::directory_iterator();
           series.increment(inner))
      {
        folders.push_back(series->path());
      }
    }
    return folders;
  }

  /** Tries every delivery that is due, one failure per destination and pass (the rest wait for the next). A delivery
   * whose outbox file was removed (by the node's operator) is given up. */
  void
  DeliverDue(const std::atomic<bool> & stop)
  {
    std::set<std::string> failing;
    std::error_code       error;
    for (std::size_t i = 0; i < m_Outbox.size() && !stop; ++i)
    {
      Delivery & delivery = m_Outbox[i];
      const auto givenUp = [&]
      {
        const bool removed = delivery.saved && !fs::exists(delivery.file, error);
        if (removed)
        {
          Problem("series " + delivery.series + ": the SEG owed to " + delivery.destination +
                  " is given up (its outbox file was removed)");
        }
        return removed;
      };
      bool done = givenUp();
      if (!done && Clock::now() >= delivery.next && failing.count(delivery.destination) == 0)
      {
        done = Deliver(delivery);
        if (!done)
        {
          failing.insert(delivery.destination);
          done = givenUp(); // removed while it was tried: not written again
          if (!done)
          {
            Save(delivery); // the attempt and its error
          }
        }
      }
      if (done)
      {
        m_Outbox.erase(m_Outbox.begin() + static_cast<std::ptrdiff_t>(i--));
      }
    }
  }

  /** Whether series, complete in working/, is to be segmented. One segmented before (in done/) is not, when it brought
   * no new instance (it is dropped); when it did, it takes its earlier instances back and is segmented again, whole
   * (the earlier results kept beside the new ones, their SEG no longer owed). */
  bool
  ToSegment(const fs::path & series)
  {
    const std::string study = series.parent_path().filename().string(), uid = series.filename().string();
    const fs::path    before = m_Spool / "done" / study / uid;
    std::error_code   error;
    if (!fs::exists(before, error))
    {
      return true;
    }
    std::size_t fresh = 0;
    for (const auto & entry : fs::directory_iterator(series, error))
    {
      fresh += fs::exists(before / entry.path().filename(), error) ? 0 : 1;
    }
    const bool failed = EarlierStatus(uid) == "failed"; // sent again after it failed: tried again
    if (fresh == 0 && !failed)
    {
      Log("series " + uid + ": " + std::to_string(CountFiles(series)) +
          " instance(s) received again; segmented before, not again");
      fs::remove_all(series, error);
      fs::remove(series.parent_path(), error);
      return false;
    }
    if (const std::string why = MoveInto(before, series, true); !why.empty())
    {
      throw Error("series " + uid + ": its earlier instances not taken back: " + why);
    }
    const fs::path results = m_Spool / "results" / study / uid;
    if (fs::exists(results, error))
    {
      fs::rename(results, FreeName(results.string() + "-superseded"), error);
    }
    const std::string seg = (fs::path("results") / study / uid / "seg.dcm").string();
    const auto        superseded = std::stable_partition(
      m_Outbox.begin(), m_Outbox.end(), [&](const Delivery & delivery) { return delivery.seg != seg; });
    for (auto owed = superseded; owed != m_Outbox.end(); ++owed)
    {
      fs::remove(owed->file, error);
      Log("series " + uid + ": the SEG owed to " + owed->destination + " is superseded; not sent");
    }
    m_Outbox.erase(superseded, m_Outbox.end());
    Log("series " + uid + ": " +
        (fresh > 0 ? std::to_string(fresh) + " instance(s) came after it was segmented"
                   : std::string("received again after it failed")) +
        "; segmenting it again, whole");
    return true;
  }

  /** The status the series had the last time it was worked on ("ok", "failed"...; status.json's list), or "". */
  std::string
  EarlierStatus(const std::string & uid) const
  {
    const auto last = std::find_if(
      m_History.rbegin(), m_History.rend(), [&](const Json & entry) { return entry.value("series", "") == uid; });
    return last == m_History.rend() ? "" : last->value("status", "");
  }

  /** Segments the series in working/ in one run of focusnet batch's code (so --jobs of them at once), owes their
   * SEGs, and moves their instances to done/. A run that fails for the spool's own trouble is tried again later. */
  void
  SegmentWorking()
  {
    std::error_code       error;
    std::vector<fs::path> series;
    for (const fs::path & folder : SeriesFolders("working"))
    {
      if (ToSegment(folder))
      {
        series.push_back(folder);
      }
    }
    if (series.empty())
    {
      return;
    }
    for (const fs::path & folder : series)
    {
      Log("series " + folder.filename().string() + ": complete, " + std::to_string(CountFiles(folder)) +
          " instance(s); segmenting");
    }
    BatchOptions batch = m_Options.batch;
    batch.inputRoot = (m_Spool / "working").string();
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
      Problem(std::string("not segmented: ") + e.what() + Later());
      return;
    }
    m_SegmentRetry = Retry{};
    std::set<std::string> unsaved; // series whose SEG could not be put in the outbox: they stay in working/
    for (const BatchItem & item : report.items)
    {
      const std::string name = item.seriesUid.empty() ? item.source : item.seriesUid;
      const std::string flags = FlagNames(item.flags);
      const std::string said = item.status + (item.reason.empty() ? "" : " (" + item.reason + ")") +
                               (item.slices > 0 ? ", " + std::to_string(item.slices) + " slices" : "") +
                               (flags.empty() ? "" : ", flagged " + flags);
      Log("series " + name + ": " + said);
      // A series segmented by a run a kill interrupted before it was filed: done in an earlier run, as it says.
      const bool segmented = item.status == "ok" || item.status == "partial" ||
                             item.reason.rfind("done in an earlier run (ok", 0) == 0 ||
                             item.reason.rfind("done in an earlier run (partial", 0) == 0;
      ++m_Counts[segmented ? "series_segmented" : "series_not_segmented"];
      m_History.push_back({ { "time", UtcText(std::chrono::system_clock::now()) },
                            { "study", item.studyUid },
                            { "series", name },
                            { "modality", item.modality },
                            { "status", item.status },
                            { "reason", item.reason },
                            { "slices", item.slices },
                            { "flags", flags },
                            { "results", item.outputFolder.empty() ? "" : "results/" + item.outputFolder } });
      if (!item.outputFolder.empty() && fs::exists(m_Spool / "results" / item.outputFolder / "seg.dcm", error) &&
          !Owe("results/" + item.outputFolder + "/seg.dcm", name))
      {
        unsaved.insert(item.seriesUid);
      }
    }
    while (m_History.size() > HistoryLength)
    {
      m_History.erase(m_History.begin());
    }
    if (!unsaved.empty())
    {
      Problem(std::to_string(unsaved.size()) + " series segmented but not yet owed in outbox/" + Later());
    }
    const std::lock_guard<std::mutex> lock(m_Context.spoolMutex);
    for (const fs::path & folder : series)
    {
      if (unsaved.count(folder.filename().string()) != 0)
      {
        continue; // segmented; the next pass finds it done and puts its SEG in the outbox again
      }
      if (const std::string why =
            MoveInto(folder, m_Spool / "done" / folder.parent_path().filename() / folder.filename(), false);
          !why.empty())
      {
        throw Error("series " + folder.filename().string() + " not moved to done/: " + why);
      }
    }
  }

  /** Puts seg into the outbox for every destination that does not have it yet: true when each is on disk. */
  bool
  Owe(const std::string & seg, const std::string & series)
  {
    std::error_code error;
    bool            saved = true;
    for (const std::string & destination : m_Destinations)
    {
      const auto owed = std::find_if(m_Outbox.begin(),
                                     m_Outbox.end(),
                                     [&](const Delivery & d) { return d.seg == seg && d.destination == destination; });
      if (owed != m_Outbox.end())
      {
        saved = (owed->saved || Save(*owed)) && saved; // found by a restart, or not saved the last time
        continue;
      }
      if (fs::exists(DeliveredFile(seg, destination), error))
      {
        continue; // delivered before a restart
      }
      Delivery delivery;
      // STUDY_SERIES_HASH.json: a name of at most 150 characters, whatever the destination.
      std::string name = fs::path(seg).parent_path().lexically_relative("results").string();
      std::replace(name.begin(), name.end(), '/', '_');
      delivery.file = m_Spool / "outbox" / (name + "_" + Hex(std::hash<std::string>{}(destination)) + ".json");
      delivery.seg = seg;
      delivery.series = series;
      delivery.destination = destination;
      saved = Save(delivery) && saved;
      m_Outbox.push_back(delivery);
    }
    return saved;
  }

  /** Sends delivery's SEG: true once the destination has it (and the outbox no longer holds it). */
  bool
  Deliver(Delivery & delivery)
  {
    std::error_code error;
    ++delivery.attempts;
    delivery.error =
      IsStowUrl(delivery.destination)
        ? StowFile(m_Spool / delivery.seg, delivery.destination)
        : SendFile(m_Spool / delivery.seg, m_Options.aeTitle, ParseDicomPeer(delivery.destination), m_Tls.get());
    if (!delivery.error.empty() && !fs::exists(m_Spool / delivery.seg, error))
    {
      delivery.error = "the SEG is gone from the spool";
    }
    if (delivery.error.empty())
    {
      std::ofstream(DeliveredFile(delivery.seg, delivery.destination))
        << UtcText(std::chrono::system_clock::now()) << '\n';
      fs::remove(delivery.file, error);
      ++m_Counts["segs_delivered"];
      Log("series " + delivery.series + ": DICOM SEG delivered to " + delivery.destination);
      return true;
    }
    ++m_Counts["delivery_failures"];
    const std::string when = "; next try in " + ShortestNumber(delivery.delay) + " s";
    delivery.next = Clock::now() + std::chrono::milliseconds(static_cast<long>(delivery.delay * 1000));
    delivery.delay = std::min(delivery.delay * 2.0, 60.0);
    Problem("series " + delivery.series + ": DICOM SEG not delivered to " + delivery.destination + ": " +
            delivery.error + when);
    return false; // the caller writes the attempt to the outbox file
  }

  /** results/STUDY/SERIES/delivered-AET@host_port (or -URL): the destination has the SEG beside it. */
  fs::path
  DeliveredFile(const std::string & seg, const std::string & destination) const
  {
    return m_Spool / fs::path(seg).parent_path() / ("delivered-" + FileNamePart(destination));
  }

  /** Writes delivery's outbox file: true when it is on disk. */
  bool
  Save(Delivery & delivery)
  {
    try
    {
      WriteTextAtomically(delivery.file.string(),
                          delivery.ToJson().dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
      delivery.saved = true;
    }
    catch (const std::exception & e) // still owed in memory; written again with the next attempt
    {
      Problem(std::string("outbox: ") + e.what());
    }
    return delivery.saved;
  }

  /** What an earlier run left in outbox/: owed still, to the destination each file names. */
  void
  LoadOutbox()
  {
    RemovePartialFiles((m_Spool / "outbox").string());
    std::error_code error;
    for (const auto & entry : fs::directory_iterator(m_Spool / "outbox", error))
    {
      if (entry.path().extension() != ".json" || entry.path().filename().string().front() == '.')
      {
        continue; // not an entry
      }
      try
      {
        std::ifstream in(entry.path());
        const Json    json = Json::parse(in);
        Delivery      delivery;
        delivery.file = entry.path();
        delivery.seg = json.at("seg").get<std::string>();
        delivery.series = json.at("series").get<std::string>();
        delivery.destination = json.at("destination").get<std::string>();
        if (!IsStowUrl(delivery.destination))
        {
          ParseDicomPeer(delivery.destination); // one this node can send to
        }
        delivery.attempts = json.value("attempts", 0U);
        delivery.error = json.value("last_error", "");
        delivery.saved = true;
        if (fs::exists(DeliveredFile(delivery.seg, delivery.destination), error))
        {
          fs::remove(entry.path(), error); // delivered just before the node was stopped
          continue;
        }
        m_Outbox.push_back(delivery);
      }
      catch (const std::exception & e)
      {
        Problem(entry.path().string() + ": not an outbox entry, left as it is: " + e.what());
      }
    }
  }

  /** The series listed by an earlier run's status.json, so that the list of what happened survives restarts. */
  void
  LoadHistory()
  {
    std::ifstream in(m_Spool / "status.json");
    try
    {
      if (in)
      {
        m_History = Json::parse(in).at("series").get<std::vector<Json>>();
      }
    }
    catch (const std::exception &)
    {
      m_History.clear(); // an unreadable status file is written anew
    }
  }

  /** status.json, rewritten (atomically) whenever what it says changes. */
  void
  WriteStatus()
  {
    std::error_code error;
    Json            waiting = Json::array();
    for (const char * stage : { "incoming", "working" })
    {
      for (const auto & study : fs::directory_iterator(m_Spool / stage, error))
      {
        for (const auto & series : fs::directory_iterator(study.path(), error))
        {
          waiting.push_back({ { "stage", stage },
                              { "study", study.path().filename().string() },
                              { "series", series.path().filename().string() },
                              { "instances", CountFiles(series.path()) } });
        }
      }
    }
    Json outbox = Json::array();
    for (const Delivery & delivery : m_Outbox)
    {
      outbox.push_back(delivery.ToJson());
    }
    Json counts = m_Counts;
    counts["instances_received"] = m_Context.filed.load();
    counts["instances_ignored"] = m_Context.ignored.load();
    counts["instances_refused"] = m_Context.refused.load();
    counts["associations_refused"] = m_Context.refusedAssociations.load();
    const Json  status = { { "node",
                             { { "ae_title", m_Options.aeTitle },
                               { "port", m_Options.port },
                               { "pid", static_cast<long>(::getpid()) },
                               { "started", m_StartedText } } },
                           { "counts_since_start", counts },
                           { "waiting", waiting },
                           { "outbox", outbox },
                           { "last_errors", m_Errors },
                           { "series", m_History } };
    std::string text = status.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
    if (text == m_LastStatus)
    {
      return;
    }
    try
    {
      WriteTextAtomically((m_Spool / "status.json").string(), text);
      m_LastStatus = std::move(text);
    }
    catch (const std::exception & e)
    {
      m_Context.Log(std::string("status: ") + e.what()); // not a problem of its own: it would change the status
    }
  }

  /** Schedules the next try to segment after its back-off (2 s, doubling up to 60 s); "; next try in N s". */
  std::string
  Later()
  {
    Retry & retry = m_SegmentRetry;
    retry.next = Clock::now() + std::chrono::milliseconds(static_cast<long>(retry.delay * 1000));
    const std::string when = "; next try in " + ShortestNumber(retry.delay) + " s";
    retry.delay = std::min(retry.delay * 2.0, 60.0);
    return when;
  }

  void
  Log(const std::string & line)
  {
    m_Context.Log(line);
  }

  /** Logs line and keeps it among the last errors of status.json. */
  void
  Problem(const std::string & line)
  {
    m_Context.Log(line);
    m_Errors.push_back({ { "time", UtcText(std::chrono::system_clock::now()) }, { "error", line } });
    if (m_Errors.size() > ErrorsKept)
    {
      m_Errors.erase(m_Errors.begin());
    }
  }

  static constexpr std::size_t HistoryLength = 200;
  static constexpr std::size_t ErrorsKept = 20;

  const NodeOptions &                         m_Options;
  const std::shared_ptr<const Model>          m_Model;
  ReceiverContext &                           m_Context;
  const fs::path                              m_Spool;
  const fs::file_time_type                    m_Started;
  const std::string                           m_StartedText;
  Retry                                       m_SegmentRetry;
  const std::unique_ptr<DcmTLSTransportLayer> m_Tls;          ///< the node's TLS as a requestor, or none
  std::vector<std::string>                    m_Destinations; ///< the --send-to peers, then the STOW-RS URLs
  std::vector<Delivery>                       m_Outbox;
  std::map<std::string, std::size_t>          m_Counts{ { "series_segmented", 0 },
                                               { "series_not_segmented", 0 },
                                               { "segs_delivered", 0 },
                                               { "delivery_failures", 0 } };
  std::vector<Json>                           m_History;
  std::vector<Json>                           m_Errors;
  std::string                                 m_LastStatus;
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
  CheckOption(option::node::MinFree, options.minFreeMegabytes);
  CheckAeTitle(options.aeTitle, "the node's AE title");
  if (options.tlsKey.empty() != options.tlsCertificate.empty() ||
      (!options.tlsKey.empty() && options.tlsTrusted.empty()) ||
      (options.tlsKey.empty() && !options.tlsTrusted.empty()))
  {
    throw Error("TLS needs the node's key and certificate and at least one trusted certificate, all three");
  }
  for (const std::string & url : options.stow)
  {
    if (!IsStowUrl(url) || url.find_first_not_of('/', url.find(':') + 1) == std::string::npos)
    {
      throw Error("'" + url + "' is not a STOW-RS URL (http://host/.../studies or https://...)");
    }
  }
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
  InitializeCurl();
  if (const std::string why = PortRefusal(options.port); !why.empty())
  {
    throw Error("port " + std::to_string(options.port) + ": cannot listen: " + why);
  }
  const std::unique_ptr<DcmTLSTransportLayer> tls = MakeTls(options, NET_ACCEPTOR); // before the spool: no trace
  const fs::path                              spool = options.spool;
  std::error_code                             error;
  for (const char * folder : { "incoming", "partial", "working", "results", "outbox", "done" })
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
  pool.getConfig().setTransportLayer(tls.get()); // none: plain TCP
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
      work.Pass(stop); // a few directory listings when there is nothing to do: cheap enough ten times a second
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
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
CheckStowUrl(const std::string & url)
{
  // QIDO-RS on the same studies endpoint, asking for one study at most: a DICOMweb server answers 200 or 204.
  const HttpAnswer answer = Http(
    url + (url.find('?') == std::string::npos ? "?" : "&") + "limit=1", { "Accept: application/dicom+json" }, nullptr);
  if (!answer.error.empty())
  {
    return answer.error;
  }
  return answer.status == 200 || answer.status == 204 ? "" : "QIDO-RS answered HTTP " + std::to_string(answer.status);
}

std::string
EchoDicomPeer(const NodeOptions & options, const DicomPeer & peer)
{
  QuietDcmtk();
  const std::unique_ptr<DcmTLSTransportLayer> tls = MakeTls(options, NET_REQUESTOR);
  Scu<DcmSCU>                                 scu;
  scu.Address(options.aeTitle, peer, tls.get());
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
  OFCondition result = scu.addPresentationContext(UID_VerificationSOPClass, syntaxes);
  if (result.good())
  {
    result = scu.Open();
  }
  if (result.good())
  {
    result = scu.sendECHORequest(0);
    scu.releaseAssociation();
  }
  return result.good() ? std::string() : Text(result);
}

} // namespace focusnet
