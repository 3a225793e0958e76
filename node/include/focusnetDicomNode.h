/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetDicomNode_h
#define focusnetDicomNode_h

#include "focusnetBatch.h"
#include "focusnetOptions.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace focusnet
{

class Model;

namespace option::node
{
// The DICOM node's own options, described as the inference options are (focusnetOptions.h) and checked by
// CheckNodeOptions.
inline constexpr NumericOption Port{ "port", "port", 1, 65535, false, true, 11112, 1, "TCP port to listen on" };
inline constexpr NumericOption Idle{
  "idle time", "idle", 0.1,
  86400,       false,  false,
  10,          1,      "seconds without a new instance after which a series is complete"
};
inline constexpr NumericOption MaxAssociations{
  "associations", "max_associations", 1, 64, false, true, 4, 1, "associations served at once (more are refused)"
};
inline constexpr NumericOption MinFree{ "minimum free space",
                                        "min_free",
                                        0,
                                        1e9,
                                        false,
                                        false,
                                        500,
                                        100,
                                        "megabytes the spool's disk keeps free: below, instances are refused (out of "
                                        "resources)" };
} // namespace option::node

/** An application entity to send to: "AET@host:port". */
struct DicomPeer
{
  std::string  aeTitle;
  std::string  host;
  unsigned int port{ 0 };
  /** "AET@host:port". */
  std::string
  Text() const;
};

/** Parses "AET@host:port"; throws focusnet::Error naming what is wrong. */
DicomPeer
ParseDicomPeer(const std::string & text);

/** A calling AE title the node accepts associations from, optionally only from one IPv4 address: "AET" or
 * "AET@192.0.2.7" (the node looks up no host names). */
struct AllowedCaller
{
  std::string aeTitle;
  std::string host; ///< empty: any address
};

/** Parses "AET" or "AET@host"; throws focusnet::Error naming what is wrong. */
AllowedCaller
ParseAllowedCaller(const std::string & text);

struct NodeOptions
{
  std::string                spool;                 ///< the node's folder: what it received, made and sent
  std::string                aeTitle{ "FOCUSNET" }; ///< its AE title (the called one; also the calling one)
  unsigned int               port{ static_cast<unsigned int>(option::node::Port.fallback) };
  std::vector<AllowedCaller> allow;  ///< empty: any calling AE title
  std::vector<DicomPeer>     sendTo; ///< where each DICOM SEG goes by C-STORE
  std::vector<std::string>   stow;   ///< and by STOW-RS: DICOMweb studies endpoints, "http(s)://host/dicom-web/studies"
  double                     idleSeconds{ option::node::Idle.fallback };
  unsigned int               maxAssociations{ static_cast<unsigned int>(option::node::MaxAssociations.fallback) };
  double                     minFreeMegabytes{ option::node::MinFree.fallback };
  /** DICOM TLS (BCP 195) for every association, received and made, when tlsKey is given: the node's PEM private key
   * and certificate, and the PEM certificates (of peers or their authorities) whose peers it accepts; a peer must
   * show a certificate they sign. */
  std::string              tlsKey, tlsCertificate;
  std::vector<std::string> tlsTrusted;
  /** The work, as focusnet batch does it: modalities, jobs, inference and output options. Its roots are the spool's;
   * it writes a DICOM SEG in any case. */
  BatchOptions batch;
  /** One line per received series, job and delivery (default: none). */
  std::function<void(const std::string &)> log;
};

/** Throws focusnet::Error, in the options' words, for an option out of its range, an AE title DICOM does not allow
 * (1 to 16 characters, no backslash or control character), a STOW-RS URL that is not http:// or https://, or TLS files
 * given in part. */
void
CheckNodeOptions(const NodeOptions & options);

/** \brief Runs the DICOM node until stop is set: a storage SCP that receives series by C-STORE (and answers C-ECHO),
 * segments each once it is complete, and sends its DICOM SEG to every destination by C-STORE (and to every STOW-RS
 * URL of options.stow).
 *
 * The spool (options.spool) holds everything, so that a node started again (after a kill -9 too) goes on where it
 * stopped: no series is segmented twice, except one a kill interrupted, and each SEG is delivered at least once:
 * - partial/: instances being received; a file is renamed under incoming/ once whole, and what an interrupted
 *   receive left is removed at start;
 * - incoming/STUDY/SERIES/SOP.dcm: series being received. A series is complete after options.idleSeconds without a
 *   new instance, counted from the node's start at the earliest (a sender cut off by a restart can send the rest),
 *   once no open association has sent instances of it;
 * - working/STUDY/SERIES/: complete series, segmented by focusnet batch's code (RunBatch, one run for the series
 *   complete at one time, options.batch.jobs at once); instances arriving meanwhile start a new folder in incoming/;
 * - results/STUDY/SERIES/: RunBatch's output (seg.dcm, summary.json with the status and reason) and a file
 *   delivered-AET@host_port for each destination that has the SEG;
 * - outbox/NAME.json: a SEG owed to a destination, with its attempts and last error; tried with back-off (2 s
 *   doubling up to 60 s) until the destination takes it, or given up once its file is removed;
 * - done/STUDY/SERIES/: the instances of segmented series. A series received again is not segmented again unless it
 *   failed the last time; one that gained instances is segmented again, whole (its earlier results are kept as
 *   results/STUDY/SERIES-superseded);
 * - status.json: the node, its counts, what waits, the outbox, the last errors, and the last series with their status
 *   and reason (rewritten atomically as it changes).
 * Instances of classes other than CT and MR images (DICOM SEG, structured reports, presentation states...) are
 * accepted and ignored, so a PACS that routes everything back, our SEGs included, causes no loop. Associations from AE
 * titles not in options.allow are refused; with less than options.minFreeMegabytes free in the spool, instances are
 * refused with the status "out of resources" (0xA700) and not kept. A series that cannot be segmented for the spool's
 * own trouble is tried again with back-off. Throws focusnet::Error for unusable options or a port it cannot listen on.
 */
void
RunDicomNode(const NodeOptions & options, const std::shared_ptr<const Model> & model, const std::atomic<bool> & stop);

/** Whether url is a DICOMweb studies endpoint that answers (a QIDO-RS search for one study): "" when it does, else
 * why not ("Couldn't connect to server", "QIDO-RS answered HTTP 404"). */
std::string
CheckStowUrl(const std::string & url);

/** C-ECHO to peer, calling as options.aeTitle (over TLS with options.tlsKey): "" when it answers, else why not
 * ("association rejected", ...). Throws focusnet::Error for TLS files that are wrong. */
std::string
EchoDicomPeer(const NodeOptions & options, const DicomPeer & peer);

} // namespace focusnet

#endif
