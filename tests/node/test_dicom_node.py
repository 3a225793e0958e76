"""focusnet serve against a real PACS: Debian's Orthanc, started by the tests with a configuration of their own on
loopback ports, and dcmtk's echoscu and storescu. Orthanc sends the real CT and MR series to the node; the DICOM SEGs
that come back are read with pydicom, checked by dciodvfy, and compared voxel by voxel with the label map
`focusnet segment` writes for the same series. Every server is stopped by its PID, also when a test fails."""
import json
import os
import pathlib
import subprocess
import time

import numpy as np
import pydicom
import pytest

from focusnet_dicom_servers import Node, Orthanc, free_port, storescu, wait_for
from focusnet_test_files import copy_dicom_series, read_nrrd

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
MODEL = os.environ["FOCUSNET_DEFAULT_MODEL"]
SAMPLES = pathlib.Path(os.environ["FOCUSNET_SHARED_DATA_DIR"]) / "dicom_samples"
CT = SAMPLES / "ct_series_uids_restored"
MR = SAMPLES / "mr_series_babymri"
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
ROUTE_EXAMPLE = pathlib.Path(os.environ["FOCUSNET_SOURCE_DIR"]) / "examples" / "dicom-node" / "route-to-focusnet.lua"


@pytest.fixture
def servers(tmp_path):
    """Yields a function that starts servers; stops every one it started, also on failure."""
    started = []

    def start(kind, *args, **kwargs):
        server = kind(*args, **kwargs)
        started.append(server)  # before waiting for it: stopped also when it never gets ready
        server.wait_ready()
        return server

    yield start
    for server in reversed(started):
        server.close()


def label_map_of(series_folder, work):
    """`focusnet segment`'s label map of the series, with each slice's source SOP instance UID (ITK stacks the
    slices by their position along the normal of the image plane)."""
    label = work / (series_folder.name + ".nrrd")
    subprocess.run([FOCUSNET, "segment", str(series_folder), str(label), "--model", MODEL, "--threads", "2",
                    "--device", "cpu"], check=True, capture_output=True, timeout=300)
    headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in series_folder.iterdir()]
    row, column = np.array([float(v) for v in headers[0].ImageOrientationPatient]).reshape(2, 3)
    normal = np.cross(row, column)
    headers.sort(key=lambda h: float(np.dot(normal, [float(v) for v in h.ImagePositionPatient])))
    return read_nrrd(label), [h.SOPInstanceUID for h in headers], headers[0]


def check_seg(seg_bytes, series_folder, work):
    """The SEG passes dciodvfy, references its source series, and its frames hold `focusnet segment`'s label map."""
    path = work / ("seg-of-" + series_folder.name + ".dcm")
    path.write_bytes(seg_bytes)
    check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    errors = [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")]
    assert errors == [], errors
    seg = pydicom.dcmread(path)
    labels, uids, source = label_map_of(series_folder, work)
    assert seg.SOPClassUID == SEG_CLASS
    assert seg.StudyInstanceUID == source.StudyInstanceUID
    assert [s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence] == [source.SeriesInstanceUID]
    referenced = {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced <= set(uids)
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)
    by_source = {}
    for frame, group in zip(frames, seg.PerFrameFunctionalGroupsSequence):
        by_source[group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID] = frame
    for k, uid in enumerate(uids):  # frames without label are left out of the SEG
        expected = labels[k] > 0
        assert np.array_equal(by_source.get(uid, np.zeros_like(expected)) > 0, expected), (series_folder.name, k)
    assert sum(int(f.sum()) for f in by_source.values()) == int((labels > 0).sum())
    return seg


def test_series_sent_by_the_pacs_come_back_as_segs_that_hold_focusnet_segment_s_label_maps(servers, tmp_path):
    node_port = free_port()
    # Orthanc as examples/dicom-node configures it: its script sends each stable CT series to the node.
    orthanc = servers(Orthanc, tmp_path / "orthanc", node_port, lua=ROUTE_EXAMPLE.read_text(), StableAge=1)
    node = servers(Node, tmp_path / "node", orthanc.dicom_port, node_port)
    orthanc.upload(CT)
    # The MR series, which the script does not route, sent by hand through Orthanc's REST API.
    answer = orthanc.post("/modalities/focusnet/store", {"Resources": [orthanc.upload(MR)], "Synchronous": True})
    assert answer.get("FailedInstancesCount", 0) == 0, answer
    segs = wait_for("two SEGs in Orthanc", lambda: (lambda s: s if len(s) == 2 else None)(orthanc.segs()), 180)
    work = tmp_path / "work"
    work.mkdir()
    seen = set()
    for instance in segs:
        seg = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc.get("/instances/%s/file" % instance)))
        folder = CT if seg.ReferencedSeriesSequence[0].SeriesInstanceUID == pydicom.dcmread(
            next(CT.iterdir()), stop_before_pixels=True).SeriesInstanceUID else MR
        check_seg(orthanc.get("/instances/%s/file" % instance), folder, work)
        seen.add(folder)
    assert seen == {CT, MR}
    delivered = "DICOM SEG delivered to ORTHANC@127.0.0.1:%d" % orthanc.dicom_port
    wait_for("both deliveries in the log", lambda: node.text().count(delivered) >= 2, 30)
    assert node.text().count(delivered) == 2, node.text()
    # Received, segmented and delivered: the instances are filed under done/, nothing is left in incoming/.
    assert list((node.spool / "incoming").iterdir()) == []
    assert len(list((node.spool / "done").glob("*/*/*.dcm"))) == len(list(CT.iterdir())) + len(list(MR.iterdir()))


def test_a_pacs_that_routes_everything_back_causes_no_loop(servers, tmp_path):
    # Orthanc sends every instance it stores to the node, the node's SEGs included.
    route = 'function OnStoredInstance(instanceId, tags, metadata, origin)\n  SendToModality(instanceId, "focusnet")\nend\n'
    node_port = free_port()
    orthanc = servers(Orthanc, tmp_path / "orthanc", node_port, lua=route)
    # Orthanc routes the instances one by one as they are uploaded: an idle time that no gap between two reaches.
    node = servers(Node, tmp_path / "node", orthanc.dicom_port, node_port, idle=6)
    orthanc.upload(CT)
    wait_for("the SEG in Orthanc", orthanc.segs, 180)
    # The SEG went back to the node, which ignored it; give it time to do anything it would do.
    wait_for("the node to ignore its own SEG", lambda: "ignored 1 instance(s)" in node.text(), 60)
    time.sleep(12)  # twice the idle time
    assert len(orthanc.segs()) == 1, orthanc.segs()
    log = node.text()
    assert log.count(": ok, 20 slices") == 1 and log.count(": ok") == 1, log  # the whole series, once
    assert log.count("DICOM SEG delivered") == 1, log
    assert list((node.spool / "incoming").iterdir()) == []
    assert len(list((node.spool / "results").glob("*/*/seg.dcm"))) == 1


def test_callers_not_allowed_are_refused_and_instances_that_are_not_images_are_ignored(servers, tmp_path):
    node = servers(Node, tmp_path / "node")
    echo = ["echoscu", "-to", "10", "127.0.0.1", str(node.port), "-aec", "FOCUSNET"]
    assert subprocess.run(echo + ["-aet", "STORESCU"], capture_output=True, timeout=60).returncode == 0
    refused = subprocess.run(echo + ["-aet", "STRANGER"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "refused an association from STRANGER" in wait_for(
        "the refusal in the log", lambda: "STRANGER" in node.text() and node.text(), 10)
    wrong_called = subprocess.run(["echoscu", "-to", "10", "127.0.0.1", str(node.port), "-aet", "STORESCU", "-aec",
                                   "SOMEONE"], capture_output=True, timeout=60)
    assert wrong_called.returncode != 0
    # A structured report (not an image): accepted with success, and not kept.
    report = tmp_path / "sr.dcm"
    dataset = pydicom.Dataset()
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    dataset.SOPInstanceUID, dataset.StudyInstanceUID, dataset.SeriesInstanceUID = (
        pydicom.uid.generate_uid() for _ in range(3))
    dataset.Modality = "SR"
    dataset.file_meta = pydicom.dataset.FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    dataset.is_little_endian, dataset.is_implicit_VR = True, False
    dataset.save_as(report, write_like_original=False)
    store = subprocess.run(["storescu", "-to", "10", "-aet", "STORESCU", "-aec", "FOCUSNET", "127.0.0.1",
                            str(node.port), str(report)], capture_output=True, text=True, timeout=60)
    assert store.returncode == 0, store.stderr
    wait_for("the node to log the ignored instance", lambda: "ignored 1 instance(s)" in node.text(), 10)
    assert list((node.spool / "incoming").iterdir()) == []
    assert list((node.spool / "partial").iterdir()) == []
    # --check echoes every destination and exits: the node itself answers (as STORESCU, which it allows); a port where
    # nothing listens does not, in one line naming the destination.
    check = [FOCUSNET, "serve", str(tmp_path / "other-spool"), "--aet", "STORESCU", "--model", MODEL, "--check"]
    answered = subprocess.run(check + ["--send-to", "FOCUSNET@127.0.0.1:%d" % node.port], capture_output=True,
                              text=True, timeout=120)
    assert answered.returncode == 0 and "FOCUSNET@127.0.0.1:%d: answers C-ECHO" % node.port in answered.stdout, (
        answered.stdout, answered.stderr)
    down = "FOCUSNET@127.0.0.1:%d" % free_port()
    silent = subprocess.run(check + ["--send-to", down], capture_output=True, text=True, timeout=120)
    assert silent.returncode != 0 and silent.stderr.startswith("focusnet: error: %s: no answer to C-ECHO" % down), (
        silent.stderr)
    assert len(silent.stderr.splitlines()) == 1, silent.stderr
    # A second node on the same port: one line, and no spool made.
    taken = subprocess.run([FOCUSNET, "serve", str(tmp_path / "second"), "--port", str(node.port), "--model", MODEL],
                           capture_output=True, text=True, timeout=120)
    assert taken.returncode != 0 and taken.stderr == "focusnet: error: port %d: cannot listen: Address already in use\n" % (
        node.port), taken.stderr
    assert not (tmp_path / "second").exists()
    # SIGTERM: the node stops accepting, lets the associations finish, and exits cleanly.
    node.process.terminate()
    assert node.process.wait(timeout=20) == 0
    assert node.log_file.read_text().rstrip().endswith("stopped")


def outbox_entries(node):
    """The node's outbox entries (not the hidden temporary file of one being written)."""
    return [json.loads(p.read_text()) for p in (node.spool / "outbox").iterdir() if not p.name.startswith(".")]


def instances_in(folder):
    return list(folder.glob("*/*/*.dcm")) if folder.exists() else []


def segs_by_source(orthanc):
    """{source series UID: how many SEGs in Orthanc reference it}."""
    found = {}
    for instance in orthanc.segs():
        seg = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc.get("/instances/%s/file" % instance)))
        source = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        found[source] = found.get(source, 0) + 1
    return found


def series_uid(folder):
    return pydicom.dcmread(next(folder.iterdir()), stop_before_pixels=True).SeriesInstanceUID


def test_a_node_killed_while_it_segments_and_while_it_receives_delivers_every_series_once(servers, tmp_path):
    node_port = free_port()
    orthanc = servers(Orthanc, tmp_path / "orthanc", node_port)
    node = servers(Node, tmp_path / "node", orthanc.dicom_port, node_port, idle=6)
    # kill -9 while it segments the CT series: the series stays in working/, and nothing reached Orthanc.
    ct = orthanc.upload(CT)
    orthanc.post("/modalities/focusnet/store", {"Resources": [ct], "Synchronous": True})
    wait_for("the node to segment", lambda: "instance(s); segmenting" in node.text(), 60)
    node.kill()
    assert len(instances_in(node.spool / "working")) == len(list(CT.iterdir()))
    assert orthanc.segs() == {}
    node.start()
    node.wait_ready()
    wait_for("the CT series' SEG", orthanc.segs, 180)
    # kill -9 while it receives the MR series from storescu (its first instance sent over and over, so that the kill
    # falls inside a transfer): what was whole stays in incoming/, what was not is removed at the start.
    sender = storescu(node.port, sorted(MR.iterdir()), "--repeat", "200", wait=False)
    try:
        wait_for("the first MR instances", lambda: instances_in(node.spool / "incoming"), 60)
        node.kill()
    finally:
        sender.kill()
        sender.wait()
    received = len(instances_in(node.spool / "incoming"))
    assert 0 < received <= len(list(MR.iterdir()))
    mr = orthanc.upload(MR)
    node.start()
    node.wait_ready()
    assert list((node.spool / "partial").iterdir()) == []
    # The PACS sends the series again, whole, within the idle time; the node segments it once, with every instance.
    orthanc.post("/modalities/focusnet/store", {"Resources": [mr], "Synchronous": True})
    wait_for("the MR series' SEG", lambda: len(orthanc.segs()) == 2, 180)
    time.sleep(7)  # more than the idle time: anything the node would still do, it does
    assert segs_by_source(orthanc) == {series_uid(CT): 1, series_uid(MR): 1}
    log = node.all_logs()
    assert log.count(": ok, 20 slices") == 1 and log.count(": ok, 6 slices") == 1, log
    assert log.count("DICOM SEG delivered") == 2, log
    status = node.status()
    assert status["outbox"] == [] and status["waiting"] == [], status
    assert {(s["series"], s["status"], s["slices"]) for s in status["series"]} == {
        (series_uid(CT), "ok", 20), (series_uid(MR), "ok", 6)}, status["series"]
    assert len(instances_in(node.spool / "done")) == len(list(CT.iterdir())) + len(list(MR.iterdir()))


def test_a_seg_waits_in_the_outbox_while_its_destination_is_down_also_across_a_restart(servers, tmp_path):
    node_port = free_port()
    orthanc = servers(Orthanc, tmp_path / "orthanc", node_port)
    orthanc.close()  # the destination is down
    node = servers(Node, tmp_path / "node", orthanc.dicom_port, node_port)
    assert storescu(node.port, sorted(MR.iterdir())).returncode == 0
    wait_for("a failed delivery", lambda: "DICOM SEG not delivered to ORTHANC" in node.text(), 120)
    # The log and status.json say what to check in the result: the MR series has no lung and is not CT.
    assert "series %s: ok, " % series_uid(MR) in node.text()
    assert ", flagged no-target out-of-distribution" in node.text()
    # The attempt is written to the outbox file once it has failed.
    [entry] = wait_for("the attempt in the outbox", lambda: [e for e in outbox_entries(node) if e["attempts"] >= 1], 30)
    assert entry["destination"] == "ORTHANC@127.0.0.1:%d" % orthanc.dicom_port and entry["attempts"] >= 1, entry
    assert entry["last_error"] and entry["series"] == series_uid(MR), entry
    assert (node.spool / entry["seg"]).is_file()
    wait_for("the error in status.json", lambda: node.status()["outbox"] and node.status()["last_errors"], 10)
    assert node.status()["last_errors"][-1]["error"].startswith("series %s: DICOM SEG not delivered" % series_uid(MR))
    node.kill()
    node.start()
    node.wait_ready()
    orthanc.start()
    orthanc.wait_ready()
    wait_for("the SEG once Orthanc is back", orthanc.segs, 120)
    wait_for("the outbox to empty", lambda: not outbox_entries(node), 30)
    time.sleep(3)
    assert segs_by_source(orthanc) == {series_uid(MR): 1}
    log = node.all_logs()
    assert log.count(": ok, 6 slices") == 1 and log.count("DICOM SEG delivered") == 1, log


def test_a_full_disk_an_aborted_association_and_a_series_of_mixed_geometry_lose_nothing(servers, tmp_path):
    # A spool that wants more free space than any disk has: every instance refused with "out of resources", none kept.
    full = servers(Node, tmp_path / "full", more=("--min-free", "1000000000"))
    refused = storescu(full.port, sorted(MR.iterdir())[:2], "--verbose", "--no-halt")
    assert refused.stderr.count("Received Store Response (Refused: OutOfResources)") == 2, refused.stderr
    wait_for("the refusal in the log", lambda: "refused 2 instance(s) from STORESCU: less than 1000000000 MB free"
             in full.text(), 10)
    assert instances_in(full.spool / "incoming") == [] and list((full.spool / "partial").iterdir()) == []
    wait_for("the count in status.json", lambda: full.status()["counts_since_start"]["instances_refused"] == 2, 10)
    # A destination where nothing listens: a SEG made would wait in the outbox.
    node = servers(Node, tmp_path / "node", free_port(), idle=5)
    # An association cut off mid-transfer: storescu sends a 16 MB secondary capture over and over, and is killed while
    # the node has one half received in partial/. The half is removed.
    big = tmp_path / "big-secondary-capture.dcm"
    dataset = pydicom.dcmread(sorted(MR.iterdir())[0])
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    dataset.Rows, dataset.Columns = 4096, 2048
    dataset.PixelData = bytes(4096 * 2048 * 2)
    dataset.save_as(big)
    sender = storescu(node.port, [big], "--repeat", "1000", wait=False)
    try:
        deadline = time.monotonic() + 60
        while not list((node.spool / "partial").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert list((node.spool / "partial").iterdir()), "no transfer seen in partial/"
    finally:
        sender.kill()
        sender.wait()
    wait_for("partial/ to empty", lambda: not list((node.spool / "partial").iterdir()), 30)
    assert storescu(node.port, sorted(MR.iterdir())).returncode == 0
    wait_for("the MR series segmented", lambda: ": ok, 6 slices" in node.text(), 120)
    # A series whose instances disagree in geometry: listed with the reason, no SEG owed.
    study, series = pydicom.uid.generate_uid(prefix=None), pydicom.uid.generate_uid(prefix=None)  # "2.25.": short

    def spacing(index, dataset):
        if index == 2:
            dataset.PixelSpacing = [2 * float(v) for v in dataset.PixelSpacing]
    mixed = copy_dicom_series(MR, tmp_path / "mixed", series_uid=series, study_uid=study, edit=spacing)
    assert storescu(node.port, sorted(mixed.iterdir())).returncode == 0
    listed = wait_for("the mixed series in status.json", lambda: [
        s for s in node.status()["series"] if s["series"] == series], 120)
    assert listed[0]["status"] == "skipped" and listed[0]["reason"] == "inconsistent geometry: mixed pixel spacings", (
        listed)
    assert "series %s: skipped (inconsistent geometry: mixed pixel spacings)" % series in node.text()
    outbox = [e["series"] for e in outbox_entries(node)]
    assert outbox == [series_uid(MR)], outbox  # the MR series' SEG, not delivered; nothing for the mixed one
    # A series with a damaged instance (its pixel data cut short) fails; sent again, it is tried again, whole.
    damaged_series = pydicom.uid.generate_uid(prefix=None)

    def cut(index, dataset):
        if index == 1:
            dataset.PixelData = dataset.PixelData[:1000]
    damaged = copy_dicom_series(MR, tmp_path / "damaged", series_uid=damaged_series, edit=cut)
    assert storescu(node.port, sorted(damaged.iterdir())).returncode == 0
    failed = wait_for("the damaged series in status.json", lambda: [
        s for s in node.status()["series"] if s["series"] == damaged_series], 120)
    assert failed[0]["status"] == "failed" and "the pixel data holds 1000 of the" in failed[0]["reason"], failed
    assert storescu(node.port, sorted(damaged.iterdir())).returncode == 0
    wait_for("a second try", lambda: "series %s: received again after it failed; segmenting it again, whole" % (
        damaged_series) in node.text(), 120)
    wait_for("the second failure", lambda: len([s for s in node.status()["series"] if s["series"] == damaged_series])
             == 2, 120)
    # The operator gives up on that delivery by removing its outbox file.
    [owed] = [p for p in (node.spool / "outbox").iterdir() if not p.name.startswith(".")]
    owed.unlink()
    wait_for("the node to give up", lambda: "is given up (its outbox file was removed)" in node.text(), 10)
    wait_for("an empty outbox in status.json", lambda: node.status()["outbox"] == [], 10)
    assert len(list((node.spool / "done" / study / series).glob("*.dcm"))) == 6


def test_segs_go_to_dicomweb_servers_by_stow_rs_and_check_asks_them_first(servers, tmp_path):
    node_port = free_port()
    archive = servers(Orthanc, tmp_path / "archive", node_port, dicomweb=True)
    stow = "http://127.0.0.1:%d/dicom-web/studies" % archive.http_port
    wrong = "http://127.0.0.1:%d/no-dicom-web-here/studies" % archive.http_port
    check = [os.environ["FOCUSNET_EXECUTABLE"], "serve", str(tmp_path / "check-spool"), "--model", MODEL, "--check"]
    answered = subprocess.run(check + ["--stow", stow], capture_output=True, text=True, timeout=120)
    assert answered.returncode == 0 and "%s: answers QIDO-RS" % stow in answered.stdout, answered
    silent = subprocess.run(check + ["--stow", wrong], capture_output=True, text=True, timeout=120)
    assert silent.returncode != 0 and silent.stderr == "focusnet: error: %s: no answer to QIDO-RS: QIDO-RS answered " \
        "HTTP 404\n" % wrong, silent.stderr
    node = servers(Node, tmp_path / "node", None, node_port, more=("--stow", stow, "--stow", wrong))
    assert storescu(node.port, sorted(MR.iterdir())).returncode == 0
    [instance] = wait_for("the SEG stored by STOW-RS", archive.segs, 120)
    # Stored through the DICOMweb plugin, not by C-STORE; the very SEG the node made.
    assert archive.get("/instances/%s/metadata?expand" % instance)["Origin"] != "DicomProtocol"
    [made] = list((node.spool / "results").glob("*/*/seg.dcm"))
    assert archive.get("/instances/%s/file" % instance) == made.read_bytes()
    # The wrong endpoint: owed in the outbox with the server's answer.
    owed = wait_for("the wrong endpoint's attempt in the outbox", lambda: [
        e for e in outbox_entries(node) if e["last_error"]], 30)
    assert [(o["destination"], o["last_error"]) for o in owed] == [(wrong, "STOW-RS answered HTTP 404")], owed


def make_certificates(folder):
    """A certificate authority, and PEM keys and certificates it signs for the node, Orthanc and a client; plus a
    stranger's, self-signed. Made with the openssl command."""
    folder.mkdir()

    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], cwd=folder, check=True, capture_output=True, timeout=60)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=focusnet-test-ca")
    for name in ("node", "orthanc", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj",
                "/CN=" + name)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                name + ".pem", "-days", "2")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out", "stranger.pem",
            "-days", "2", "-subj", "/CN=stranger")
    return folder


def test_dicom_tls_both_ways_with_certificates_of_a_trusted_authority_only(servers, tmp_path):
    pki = make_certificates(tmp_path / "pki")
    node_port = free_port()
    orthanc = servers(Orthanc, tmp_path / "orthanc", node_port, DicomTlsEnabled=True,
                      DicomTlsCertificate=str(pki / "orthanc.pem"), DicomTlsPrivateKey=str(pki / "orthanc.key"),
                      DicomTlsTrustedCertificates=str(pki / "ca.pem"),
                      DicomModalities={"focusnet": {"AET": "FOCUSNET", "Host": "127.0.0.1", "Port": node_port,
                                                    "UseDicomTls": True}})
    node = servers(Node, tmp_path / "node", orthanc.dicom_port, node_port,
                   more=("--tls-key", str(pki / "node.key"), "--tls-cert", str(pki / "node.pem"), "--tls-trust",
                         str(pki / "ca.pem")))
    # Orthanc sends the series over TLS; the SEG comes back over TLS.
    answer = orthanc.post("/modalities/focusnet/store", {"Resources": [orthanc.upload(MR)], "Synchronous": True})
    assert answer.get("FailedInstancesCount", 0) == 0, answer
    wait_for("the SEG back over TLS", orthanc.segs, 120)
    wait_for("the delivery in the log", lambda: "DICOM SEG delivered to ORTHANC@127.0.0.1:%d" % orthanc.dicom_port
             in node.text(), 30)
    echo = ["echoscu", "-to", "10", "-aet", "STORESCU", "-aec", "FOCUSNET"]
    address = ["127.0.0.1", str(node.port)]
    def refused(run):  # the node was there, and said no
        return run.returncode != 0 and "Association Request Failed" in run.stderr and "refused" not in run.stderr
    plain = subprocess.run(echo + address, capture_output=True, text=True, timeout=60)
    assert refused(plain), plain.stderr
    trusted = subprocess.run(echo + ["+tls", str(pki / "client.key"), str(pki / "client.pem"), "+cf",
                                     str(pki / "ca.pem")] + address, capture_output=True, text=True, timeout=60)
    assert trusted.returncode == 0, trusted.stderr
    stranger = subprocess.run(echo + ["+tls", str(pki / "stranger.key"), str(pki / "stranger.pem"), "+cf",
                                      str(pki / "ca.pem")] + address, capture_output=True, text=True, timeout=60)
    assert refused(stranger), stranger.stderr
    # Half the TLS options: one line, before anything starts.
    half = subprocess.run([os.environ["FOCUSNET_EXECUTABLE"], "serve", str(tmp_path / "half"), "--model", MODEL,
                           "--tls-key", str(pki / "node.key")], capture_output=True, text=True, timeout=60)
    assert half.returncode != 0 and half.stderr == "focusnet: error: TLS needs the node's key and certificate and " \
        "at least one trusted certificate, all three\n", half.stderr
    wrong = subprocess.run([os.environ["FOCUSNET_EXECUTABLE"], "serve", str(tmp_path / "wrong"), "--model", MODEL,
                            "--tls-key", str(pki / "client.key"), "--tls-cert", str(pki / "node.pem"), "--tls-trust",
                            str(pki / "ca.pem"), "--port", str(free_port())], capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode != 0 and wrong.stderr == "focusnet: error: %s: not the private key of the certificate " \
        "%s\n" % (pki / "client.key", pki / "node.pem"), wrong.stderr
    assert not (tmp_path / "wrong").exists()
