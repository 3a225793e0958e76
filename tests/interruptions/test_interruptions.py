"""Real interruptions: `focusnet batch` and `focusnet-train` killed with SIGKILL, then run again with the same command.

A batch killed between series, during a series and while writing an output ends, on the second run, with every series
done exactly once and outputs identical to an uninterrupted run's; a training run killed during an epoch and while
writing its checkpoint resumes and ends with the numbers of an uninterrupted run (same seed, one thread).

"While writing" is made certain, not hoped for: the test watches the output folder, stops the process (SIGSTOP) as soon
as a hidden temporary file of an atomic write appears, checks that the file is still there, and only then kills it.
Run by ctest with Debian's /usr/bin/python3; the batch part needs pydicom and the shared CT series.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from focusnet_test_files import write_disc_pairs

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
TRAIN = os.environ.get("FOCUSNET_TRAIN_EXECUTABLE", "")
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
CT_SERIES = SHARED / "dicom_samples/ct_series_uids_restored"
MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
SERIES = 4


def partial_files(folder):
    return [p for p in Path(folder).rglob(".*.partial-*")] if Path(folder).exists() else []


def bytes_read(process):
    """What the process has read so far, in bytes (rchar of /proc/PID/io): it grows as a series' files are read."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/%d/io" % process.pid).read_text().splitlines())
    except OSError:  # it has ended
        return 0
    return int(fields["rchar"])


def interrupt(command, out, ready, attempts=5, timeout=240):
    """Runs command and SIGKILLs it at the moment ready(process) turns true (polled every half millisecond). The
    process is first stopped (SIGSTOP) and ready() asked again, so the moment is certain, not raced: when it has
    passed, or the command finished first, out is cleared and the command run again, up to attempts times. Returns
    what ready() gave with the process stopped."""
    for attempt in range(attempts):
        shutil.rmtree(out, ignore_errors=True)
        process = subprocess.Popen([str(a) for a in command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if ready(process):
                process.send_signal(signal.SIGSTOP)
                caught = ready(process)
                process.send_signal(signal.SIGKILL)
                process.wait()
                if caught:
                    return caught
                break
            time.sleep(0.0005)
        if process.poll() is None:
            process.kill()
            process.wait()
    pytest.fail("never caught the moment to kill %s in %d runs" % (command[0], attempts))


# ---- batch ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """SERIES copies of the real 20-slice CT series, each with UIDs of its own (written with pydicom)."""
    pydicom = pytest.importorskip("pydicom")
    if not CT_SERIES.is_dir():
        pytest.skip("needs the shared CT series")
    root = tmp_path_factory.mktemp("archive")
    for number in range(SERIES):
        folder = root / ("study-%d" % number) / "ct"
        folder.mkdir(parents=True)
        for index, source in enumerate(sorted(CT_SERIES.iterdir())):
            dataset = pydicom.dcmread(source)
            dataset.StudyInstanceUID = "2.25.5%d" % number
            dataset.SeriesInstanceUID = "2.25.6%d" % number
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = "2.25.7%d%03d" % (number, index)
            dataset.save_as(folder / source.name)
    return root


def batch(archive, out):
    return [FOCUSNET, "batch", archive, out, "--model", MODEL, "--threads", "2", "--formats", "nrrd", "seg"]


@pytest.fixture(scope="module")
def reference(archive, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out"
    result = subprocess.run([str(a) for a in batch(archive, out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


def series_outputs(out):
    """{series UID: (label map bytes, SEG frames as numpy)} of a batch output tree, with each UID's summary.json."""
    import pydicom
    outputs = {}
    for summary in Path(out).rglob("summary.json"):
        record = json.loads(summary.read_text())
        folder = summary.parent
        seg = pydicom.dcmread(folder / "seg.dcm")
        outputs[folder.name] = ((folder / "label.nrrd").read_bytes(), seg.pixel_array.copy(), record["status"])
    return outputs


def done_series(out):
    return {p.parent.name for p in Path(out).rglob("summary.json")}


def rows_of(out):
    with (Path(out) / "summary.csv").open() as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("moment", ["between-series", "during-a-series", "writing-the-label-map", "writing-the-seg"])
def test_real_data_a_killed_batch_finishes_every_series_once_on_the_second_run(moment, archive, reference, tmp_path):
    out = tmp_path / "out"
    if moment == "between-series":
        caught = interrupt(batch(archive, out), out, lambda process: done_series(out))
    elif moment == "during-a-series":
        # In the second series, after its files were read (the process has read a series' worth of bytes more since
        # the first was done) and before anything of it is written: whatever the machine's speed.
        series_bytes = sum(f.stat().st_size for f in (archive / "study-1" / "ct").iterdir())
        read_at_first_done = {}

        def in_the_second_series(process):
            if len(done_series(out)) != 1 or partial_files(out):
                return False
            read = bytes_read(process)
            read_at_first_done.setdefault(process.pid, read)
            return read - read_at_first_done[process.pid] >= series_bytes
        caught = interrupt(batch(archive, out), out, in_the_second_series)
    else:
        name = "label" if moment == "writing-the-label-map" else "seg"
        caught = interrupt(batch(archive, out), out,
                           lambda process: [p for p in partial_files(out) if name in p.name])
    finished_before = done_series(out)
    assert len(finished_before) < SERIES

    result = subprocess.run([str(a) for a in batch(archive, out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = rows_of(out)
    # Every series exactly once: those finished before the kill are skipped as done, the others segmented now.
    assert sorted(row["series_uid"] for row in rows) == sorted("2.25.6%d" % n for n in range(SERIES))
    for row in rows:
        expected = "skipped" if row["series_uid"] in finished_before else "ok"
        assert row["status"] == expected, row
    assert partial_files(out) == []
    # The outputs are the uninterrupted run's: label maps byte for byte, SEG frames value for value.
    mine, theirs = series_outputs(out), series_outputs(reference)
    assert sorted(mine) == sorted(theirs)
    for uid in theirs:
        assert mine[uid][0] == theirs[uid][0], uid
        np.testing.assert_array_equal(mine[uid][1], theirs[uid][1], err_msg=uid)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    expected_files = sorted(str(p.relative_to(reference)) for p in reference.rglob("*") if p.is_file())
    assert files == expected_files


# ---- training -------------------------------------------------------------------------------------------------------
EPOCHS = 4


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """16 synthetic image/mask pairs (bright discs on noise), written with Pillow."""
    return write_disc_pairs(tmp_path_factory.mktemp("pairs"), 16, 48, seed=11)


def train(pairs, out, *extra):
    return [TRAIN, "--list", pairs, "-o", out, "--epochs", EPOCHS, "--size", "32", "--width", "0.125",
            "--min-channels", "4", "--batch-size", "4", "--threads", "1", "--seed", "5", *extra]


def log_rows(out):
    with (Path(out) / "log.csv").open() as file:
        return list(csv.DictReader(file))


def model_weights_crc(path):
    """The model file's weights checksum, read from its header (independent of FocusNet's reader)."""
    data = Path(path).read_bytes()
    length = int.from_bytes(data[12:20], "little")
    header = json.loads(data[20:20 + length])
    payload = data[20 + length:]
    assert zlib.crc32(payload) & 0xFFFFFFFF == header["payload_crc32"]
    return header["payload_crc32"]


@pytest.mark.skipif(not TRAIN, reason="focusnet-train is not built")
@pytest.mark.parametrize("moment", ["during-an-epoch", "writing-the-checkpoint"])
def test_a_killed_training_run_resumes_to_the_numbers_of_an_uninterrupted_run(moment, pairs, tmp_path):
    straight = tmp_path / "straight"
    result = subprocess.run([str(a) for a in train(pairs, straight)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    out = tmp_path / "interrupted"
    if moment == "during-an-epoch":
        # Epoch 2 is logged and checkpointed; epoch 3 is running.
        caught = interrupt(train(pairs, out), out, lambda process: (out / "log.csv").exists() and
                           len(log_rows(out)) == 2 and (out / "checkpoint.pt").exists() and not partial_files(out))
    else:
        # A checkpoint after the second epoch's (so that there is one to resume from) caught in the act of writing.
        caught = interrupt(train(pairs, out), out, lambda process: (out / "log.csv").exists() and
                           len(log_rows(out)) >= 2 and [p for p in partial_files(out) if "checkpoint" in p.name])
    assert caught
    logged = len(log_rows(out)) if (out / "log.csv").exists() else 0
    assert logged < EPOCHS

    result = subprocess.run([str(a) for a in train(pairs, out, "--resume")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert partial_files(out) == []
    mine, theirs = log_rows(out), log_rows(straight)
    assert [row["epoch"] for row in mine] == [str(e) for e in range(1, EPOCHS + 1)]
    for a, b in zip(mine, theirs):
        for column in b:
            if column not in ("seconds", "images_per_second"):
                assert a[column] == b[column], (column, a, b)
    assert model_weights_crc(out / "model.fnm") == model_weights_crc(straight / "model.fnm")
