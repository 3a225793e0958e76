#!/usr/bin/env python3
"""`focusnet segment` on 512 x 512 x N volumes: time against the network's own time, and peak memory.

    /usr/bin/python3 benchmarks/volume-memory.py BUILD_DIR [MODEL] [--slices 32,128,300] [--threads 2] [--repeats 3]

For each N, writes a CT-like int16 volume (.mha, uncompressed) and runs `focusnet segment VOLUME OUT.nrrd` in a
fresh process, measuring its wall time and peak RSS (getrusage of the child). The forward time is the engine alone
(focusnet-engine-speed, same model, threads and batch size) times N; the overhead is the rest (start, model
load, reading, slicing, resampling, writing). "Warm" is the same job in a process that has done it once (the
Python module's Model.segment_file, second call): what is left without starting a process and without first touches
of memory. The memory model: peak RSS(N) against peak RSS(32) plus the extra input (int16: the filter segments such
volumes as read) and output (uint8) voxels.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write_volume(path, slices):
    z, y, x = np.ogrid[0:slices, 0:512, 0:512]
    body = ((x - 256) / 200.0) ** 2 + ((y - 256) / 150.0) ** 2 < 1
    lungs = (((x - 170) / 70.0) ** 2 + ((y - 240) / 100.0) ** 2 < 1) | (((x - 342) / 70.0) ** 2 + ((y - 240) / 100.0) ** 2 < 1)
    volume = np.where(body, np.where(lungs, -850, 40), -1000).astype(np.int16)
    volume = np.broadcast_to(volume, (slices, 512, 512)) + (np.arange(slices) % 7).astype(np.int16)[:, None, None]
    header = ["ObjectType = Image", "NDims = 3", f"DimSize = 512 512 {slices}", "ElementSpacing = 0.7 0.7 1.5",
              "ElementType = MET_SHORT", "ElementDataFile = LOCAL"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode())
        f.write(np.ascontiguousarray(volume).tobytes())


def run_measured(command):
    """(seconds, peak RSS in MiB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command}: {child.stderr.read().decode().strip()}")
    return seconds, usage.ru_maxrss / 1024


def warm_seconds(build, model, volume, out, threads, batch):
    """Seconds of the second Model.segment_file of the volume in one Python process."""
    script = ("import sys, time, focusnet\n"
              f"m = focusnet.Model({str(model)!r}, device='cpu', threads={threads}, batch_size={batch})\n"
              "times = []\n"
              "for _ in range(2):\n"
              "    start = time.perf_counter()\n"
              f"    m.segment_file({str(volume)!r}, {str(out)!r}, overwrite=True)\n"
              "    times.append(time.perf_counter() - start)\n"
              "print(times[-1])\n")
    environment = dict(os.environ, PYTHONPATH=str(build / "wrapping/lib/python3/dist-packages"))
    return float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                env=environment).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build", type=Path)
    parser.add_argument("model", nargs="?", default=str(HERE.parent / "test_data/models/focusnet-lung.fnm"))
    parser.add_argument("--slices", default="32,128,300")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--batch", default="8")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    focusnet = arguments.build / "apps/focusnet"
    engine = arguments.build / "benchmarks/focusnet-engine-speed"

    def forward_ms():
        """The engine's time per slice on 256 x 256 network inputs, as the filter feeds it after resampling."""
        return float(subprocess.run([engine, arguments.model, arguments.batch, arguments.threads, "5"],
                                    capture_output=True, text=True, check=True).stdout.split()[1])

    print(f"model {arguments.model}, {arguments.threads} threads, batch {arguments.batch}; medians of "
          f"{arguments.repeats} rounds, each measuring the engine alone right before the command (this VM's speed "
          "drifts by 10-20% within minutes)\n")
    print("| slices | total s | forward s | overhead | warm s | warm overhead | peak RSS MiB | RSS(32) + extra voxels | "
          "ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = None
    median = statistics.median
    with tempfile.TemporaryDirectory() as work:
        for slices in map(int, arguments.slices.split(",")):
            volume, out = Path(work) / f"v{slices}.mha", Path(work) / "out.nrrd"
            write_volume(volume, slices)
            rounds = []
            for _ in range(arguments.repeats):
                forward = forward_ms() * slices / 1000
                seconds, rss = run_measured([str(focusnet), "segment", str(volume), str(out), "--model",
                                             arguments.model, "--threads", arguments.threads, "--batch-size",
                                             arguments.batch, "--device", "cpu", "--overwrite", "-q"])
                warm = warm_seconds(arguments.build, arguments.model, volume, out, arguments.threads, arguments.batch)
                rounds.append((seconds, forward, warm, rss))
            seconds, forward, warm, rss = (median(r[i] for r in rounds) for i in range(4))
            overhead = median(100 * (r[0] - r[1]) / r[1] for r in rounds)
            warm_overhead = median(100 * (r[2] - r[1]) / r[1] for r in rounds)
            if base is None:
                base = (slices, rss)
            extra = (slices - base[0]) * 512 * 512 * (2 + 1) / 2**20  # int16 input + uint8 labels
            allowed = base[1] + extra
            print(f"| {slices} | {seconds:.1f} | {forward:.1f} | {overhead:.0f}% | {warm:.1f} | {warm_overhead:.0f}% | "
                  f"{rss:.0f} | {allowed:.0f} | {rss / allowed:.2f} |", flush=True)
            os.remove(volume)


if __name__ == "__main__":
    sys.exit(main())
