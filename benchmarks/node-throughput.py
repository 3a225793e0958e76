#!/usr/bin/env python3
"""The DICOM node (`focusnet serve`) against `focusnet batch` on the same series, in one run, with Debian's Orthanc
as the PACS (both on loopback ports of their own; 2 inference threads, CPU).

    /usr/bin/python3 benchmarks/node-throughput.py BUILD_DIR [--idle 2] [--repeats 3]

1. End to end: seconds from Orthanc's C-STORE of the 20-slice CT series to the node until the node's SEG is stored
   in Orthanc (median of the repeats, each a copy of the series with new UIDs), against `focusnet batch` on the same
   copy (label map and SEG). Issue 30's target: node <= 1.2 x batch + the idle time.
2. Throughput: 8 copies sent at once by 4 storescu processes (one association each, 2 series each); series per
   minute from the first C-STORE until the 8th SEG is in Orthanc, against `focusnet batch` on the same 8, both
   with --jobs 1 and both with --jobs 2.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "common"))
SAMPLES = HERE.parent.parent / "shared" / "data" / "dicom_samples"


def copy_series(source, target):
    """source's instances under new study, series and instance UIDs: a series the node has not seen."""
    from focusnet_test_files import copy_dicom_series
    return copy_dicom_series(source, target, series_uid=pydicom.uid.generate_uid(prefix=None),
                             study_uid=pydicom.uid.generate_uid(prefix=None))


def batch_seconds(folder, output, jobs=1):
    start = time.monotonic()
    subprocess.run([os.environ["FOCUSNET_EXECUTABLE"], "batch", str(folder), str(output), "--model",
                    os.environ["FOCUSNET_DEFAULT_MODEL"], "--device", "cpu", "--threads", "2", "--jobs", str(jobs),
                    "--quiet"], check=True, capture_output=True)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build")
    parser.add_argument("--idle", type=float, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    os.environ.setdefault("FOCUSNET_EXECUTABLE", str(Path(arguments.build).resolve() / "apps" / "focusnet"))
    os.environ.setdefault("FOCUSNET_DEFAULT_MODEL", str(HERE.parent / "test_data" / "models" / "focusnet-lung.fnm"))
    os.environ.setdefault("FOCUSNET_ORTHANC", "/usr/sbin/Orthanc")
    from focusnet_dicom_servers import Node, Orthanc, free_port, wait_for

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        node_port = free_port()
        orthanc = Orthanc(work / "orthanc", node_port)
        node = None
        try:
            orthanc.wait_ready()
            node = Node(work / "node", orthanc.dicom_port, node_port, idle=arguments.idle)
            node.wait_ready()

            node_times, batch_times = [], []
            for k in range(arguments.repeats):
                series = copy_series(SAMPLES / "ct_series_uids_restored", work / ("e2e-%d" % k) / "series")
                batch_times.append(batch_seconds(series.parent, work / ("batch-%d" % k)))
                resource = orthanc.upload(series)
                before = len(orthanc.segs())
                start = time.monotonic()
                orthanc.post("/modalities/focusnet/store", {"Resources": [resource], "Synchronous": True})
                wait_for("the SEG", lambda: len(orthanc.segs()) > before, 300)
                node_times.append(time.monotonic() - start)
            node_median, batch_median = statistics.median(node_times), statistics.median(batch_times)
            print("end to end, 20-slice CT, idle %g s, median of %d" % (arguments.idle, arguments.repeats))
            print("  node (C-STORE to SEG in Orthanc): %6.2f s   (each: %s)" % (
                node_median, ", ".join("%.2f" % t for t in node_times)))
            print("  focusnet batch:                   %6.2f s   (each: %s)" % (
                batch_median, ", ".join("%.2f" % t for t in batch_times)))
            print("  node - idle = %.2f x batch; target 1.2 x batch + idle = %.2f s: %s" % (
                (node_median - arguments.idle) / batch_median, 1.2 * batch_median + arguments.idle,
                "met" if node_median <= 1.2 * batch_median + arguments.idle else "NOT met"))

            print("8 series of 20 slices, sent at once by 4 associations (2 series each)")
            for jobs in (1, 2):
                if jobs > 1:  # a node of its own, segmenting `jobs` series at once
                    node.close()
                    node = Node(work / ("node-jobs-%d" % jobs), orthanc.dicom_port, free_port(), idle=arguments.idle,
                                more=("--jobs", str(jobs)))
                    node.wait_ready()
                eight = [copy_series(SAMPLES / "ct_series_uids_restored", work / ("eight-%d" % jobs) / str(k))
                         for k in range(8)]
                batch8 = batch_seconds(work / ("eight-%d" % jobs), work / ("eight-batch-%d" % jobs), jobs)
                before = len(orthanc.segs())
                start = time.monotonic()
                senders = [subprocess.Popen(["storescu", "-to", "10", "-aet", "STORESCU", "-aec", "FOCUSNET",
                                             "--propose-j2k-lossless", "127.0.0.1", str(node.port)] +
                                            [str(f) for s in eight[2 * k:2 * k + 2] for f in sorted(s.iterdir())],
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                           for k in range(4)]
                for sender in senders:
                    said = sender.communicate(timeout=300)[0]
                    if sender.returncode != 0:
                        sys.exit("storescu: %s\nnode: %s" % (said, node.text()))
                sent = time.monotonic() - start
                wait_for("8 SEGs", lambda: len(orthanc.segs()) >= before + 8, 900)
                node8 = time.monotonic() - start
                print("  --jobs %d: node %6.2f s, %5.1f series/min (all sent after %.2f s); focusnet batch %6.2f s, "
                      "%5.1f series/min; node / batch %.2fx the time (one idle time of %g s included)" % (
                          jobs, node8, 8 * 60 / node8, sent, batch8, 8 * 60 / batch8, node8 / batch8, arguments.idle))
        finally:
            if node:
                node.close()
            orthanc.close()


if __name__ == "__main__":
    main()
