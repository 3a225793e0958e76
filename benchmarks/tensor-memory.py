#!/usr/bin/env python3
"""What the kept huge-page tensor memory buys: the same programs with it and without (FOCUSNET_KEEP_TENSOR_MEMORY=0).

    /usr/bin/python3 benchmarks/tensor-memory.py BUILD_DIR [--rounds 3] [--threads 2]

Runs each case with and without, alternating, ROUNDS times in fresh processes, and prints the medians and their
ratio: the engine alone (ms per 256 x 256 slice, focusnet-engine-speed), the engine's first call of a process
(the default model's batch of 8 slices of 512 x 512, through the Python module), `focusnet segment` of 512 x 512
volumes (wall time and peak RSS), the same with glibc's malloc instead of tcmalloc, and training images/s.
"""
import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "test_data/models/focusnet-lung.fnm"
SWITCH = "FOCUSNET_KEEP_TENSOR_MEMORY"

FIRST_CALL = """
import sys, time, numpy as np
sys.path.insert(0, sys.argv[1])
import focusnet
model = focusnet.Model(sys.argv[2], device="cpu", threads=int(sys.argv[3]))
x = np.random.default_rng(0).uniform(-1000, 400, (8, 512, 512)).astype(np.float32)
times = []
for _ in range(3):
    start = time.perf_counter(); model.segment(x); times.append(1000 * (time.perf_counter() - start))
print(times[0], min(times[1:]))
"""


def load_volume_writer():
    spec = importlib.util.spec_from_file_location("volume_memory", HERE / "volume-memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(command, keep):
    """The finished child process, with the kept memory on (the default) or switched off."""
    environment = dict(os.environ)
    if keep:
        environment.pop(SWITCH, None)
    else:
        environment[SWITCH] = "0"
    return subprocess.run(command, capture_output=True, text=True, check=True, env=environment)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="2")
    arguments = parser.parse_args()
    build, threads = arguments.build.resolve(), arguments.threads
    engine = str(build / "benchmarks/focusnet-engine-speed")
    timed = ["/usr/bin/time", "-f", "%e %M"]
    volume_memory = load_volume_writer()

    with tempfile.TemporaryDirectory() as work:
        volumes = {}
        for slices in (16, 128):
            volumes[slices] = Path(work) / f"v{slices}.mha"
            volume_memory.write_volume(volumes[slices], slices)

        def segment(program, slices):
            def measure(keep):
                command = [*timed, str(build / program), "segment", str(volumes[slices]), str(Path(work) / "o.nrrd"),
                           "--model", str(MODEL), "--threads", threads, "--device", "cpu", "--overwrite", "-q"]
                seconds, kilobytes = run(command, keep).stderr.split()[-2:]
                return float(seconds), float(kilobytes) / 1024
            return measure

        def train(architecture):
            def measure(keep):
                out = Path(work) / f"train-{architecture}"
                data = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", HERE.parent.parent / "shared/data"))
                run([str(build / "training/focusnet-train"), "--images", str(data / "kaggle_lung_ct_2d/images"),
                     "--masks", str(data / "kaggle_lung_ct_2d/masks"), "--output", str(out), "--architecture",
                     architecture, "--width", "0.25", "--min-channels", "16", "--size", "256", "--epochs", "1",
                     "--epoch-size", "48", "--threads", threads, "--device", "cpu"], keep)
                rate = float((out / "log.csv").read_text().strip().splitlines()[-1].split(",")[-1])
                shutil.rmtree(out)
                return (rate,)
            return measure

        cases = []
        for what, label in (("1", "full width"), (str(MODEL), "default model")):
            for batch in ("1", "8"):
                cases.append((f"engine, {label}, batch {batch}: ms/slice", lambda keep, w=what, b=batch: (
                    float(run([engine, w, b, threads, "3"], keep).stdout.split()[1]),)))
        cases.append(("Python, default model, 8 x 512 x 512: first call ms, later calls ms", lambda keep: tuple(
            map(float, run(["/usr/bin/python3", "-c", FIRST_CALL, str(build / "wrapping/lib/python3/dist-packages"),
                            str(MODEL), threads], keep).stdout.split()))))
        for slices in (16, 128):
            cases.append((f"focusnet segment 512 x 512 x {slices}: s, peak RSS MiB", segment("apps/focusnet", slices)))
        cases.append(("the same, 128 slices, glibc malloc: s, peak RSS MiB",
                      segment("benchmarks/focusnet-glibc-malloc", 128)))
        for architecture in ("focusnet", "unet"):
            cases.append((f"training {architecture} (width 0.25): images/s", train(architecture)))

        print(f"medians of {arguments.rounds} rounds, {threads} threads; 'kept' is the default, 'not kept' runs with "
              f"{SWITCH}=0\n")
        print("| case | kept | not kept | kept / not kept |")
        print("|---|---|---|---|")
        for name, measure in cases:
            results = {True: [], False: []}
            for _ in range(arguments.rounds):
                for keep in (False, True):
                    results[keep].append(measure(keep))
            medians = {k: [statistics.median(r[i] for r in v) for i in range(len(v[0]))] for k, v in results.items()}
            cell = {k: ", ".join(f"{m:.1f}" for m in v) for k, v in medians.items()}
            ratio = ", ".join(f"{a / b:.2f}" for a, b in zip(medians[True], medians[False]))
            print(f"| {name} | {cell[True]} | {cell[False]} | {ratio} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
