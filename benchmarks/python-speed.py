#!/usr/bin/python3
"""ms per slice of the Python bindings against `focusnet segment` on the real 20-slice CT series, in one run.

Usage: benchmarks/python-speed.py BUILD_DIR [THREADS] [REPEATS]
Command: the whole `focusnet segment` process (start, model load, reading the DICOM files, writing the label map).
Python, the model loaded once: Model.segment_file (the same file-to-file job) and Model.segment on the series already
in memory (read once with pydicom). Best of REPEATS each. Python runs as shipped (glibc's malloc tuned on import) and
with tcmalloc preloaded, to see whether the tuning is enough.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

build = Path(sys.argv[1]).resolve()
threads = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
repository = Path(__file__).resolve().parent.parent
series = repository.parent / "shared/data/dicom_samples/ct_series_uids_restored"
model_file = repository / "test_data/models/focusnet-lung.fnm"
python_dir = next((build / "wrapping").glob("lib/python3*/*-packages"))

# Run in a child process (once per allocator): the measurement itself.
CHILD = r"""
import sys, time, numpy as np, pydicom, focusnet
from pathlib import Path
series, model_file, threads, repeats = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
slices = [pydicom.dcmread(str(f)) for f in sorted(series.iterdir()) if f.is_file()]
slices.sort(key=lambda s: float(s.ImagePositionPatient[2]))
volume = np.stack([s.pixel_array * float(s.RescaleSlope) + float(s.RescaleIntercept) for s in slices])
model = focusnet.Model(model_file, device="cpu", threads=threads)


def best_ms(work):
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    return 1000 * best / len(volume)


print(best_ms(lambda: model.segment(volume)))
print(best_ms(lambda: model.segment_file(series, sys.argv[5], overwrite=True)))
"""


def python_ms(preload=None):
    """(Model.segment on the array, Model.segment_file on the series folder), ms per slice."""
    environment = dict(os.environ, PYTHONPATH=str(python_dir))
    if preload:
        environment["LD_PRELOAD"] = preload
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            ["/usr/bin/python3", "-c", CHILD, str(series), str(model_file), str(threads), str(repeats),
             scratch + "/out.nrrd"], env=environment, capture_output=True, text=True, check=True)
    return [float(line) for line in result.stdout.split()]


def command_ms():
    with tempfile.TemporaryDirectory() as scratch:
        best = None
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([str(build / "apps/focusnet"), "segment", str(series), scratch + "/out.nrrd", "--model",
                            str(model_file), "--threads", str(threads), "--device", "cpu", "--overwrite", "--quiet"],
                           check=True)
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
    return 1000 * best / 20


tcmalloc = next((str(p) for p in Path("/usr/lib/x86_64-linux-gnu").glob("libtcmalloc_minimal.so.4")), None)
command = command_ms()
array, files = python_ms()
rows = [("focusnet segment (whole process)", command),
        ("Python Model.segment_file (same job, in process)", files),
        ("Python Model.segment (array in memory)", array)]
if tcmalloc:
    array, files = python_ms(tcmalloc)
    rows += [("  same, tcmalloc preloaded: segment_file", files), ("  same, tcmalloc preloaded: segment", array)]
print("default model, 20-slice CT series, %d threads, best of %d" % (threads, repeats))
print("%-50s %10s %12s" % ("", "ms/slice", "vs command"))
for name, ms in rows:
    print("%-50s %10.1f %11.2fx" % (name, ms, ms / command))
