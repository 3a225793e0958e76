#!/usr/bin/env python3
"""The C++ inference engine against the same network in PyTorch, on this CPU, in one run.

    /usr/bin/python3 benchmarks/cpu-speed.py BUILD_DIR [--widths 1,0.25] [--batches 1,4,8,16] [--threads 1,2]
                                             [--repeats 3]

For each width, thread count and batch size, with the same weights (a model file made by `focusnet init`) and
random 256 x 256 slices: ms per slice (median of the repeats) of
  - C++: InferenceEngine::Predict (BUILD_DIR/benchmarks/focusnet-engine-speed, linked with tcmalloc);
  - Python: benchmarks/focusnet_torch.py in eval and inference mode, plain and with tcmalloc preloaded;
  - C++ in bf16 where the CPU computes it natively (AVX512-BF16 or AMX);
  - the floor: the slice's multiply-accumulates at the speed of one large 3x3 convolution (256 -> 256 channels,
    64 x 64, batch 4, fp32, tcmalloc preloaded) measured here with the same thread count. oneDNN may use Winograd
    for 3x3 convolutions, so a whole network can run above it.
Each figure comes from a fresh process. Needs Debian's python3-torch (the same LibTorch as libtorch-dev).
An AVX2 machine can be imitated on a newer one: ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 reach every process
(oneDNN then has no bf16 kernels, so the bf16 column is left out).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def anchor(model, batch, threads, repeats):
    """Child process: the PyTorch network, ms per slice (median) on max(batch, 8) slices."""
    import torch
    sys.path.insert(0, str(HERE))
    from focusnet_torch import build
    torch.set_num_threads(threads)
    network = build(model)
    count = max(batch, 8) // batch * batch
    x = torch.rand(count, 1, 256, 256, generator=torch.Generator().manual_seed(7))
    times = []
    with torch.inference_mode():
        torch.sigmoid(network(x[:batch]))  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for b in range(0, count, batch):
                torch.sigmoid(network(x[b:b + batch])).numpy()
            times.append(1000 * (time.perf_counter() - start) / count)
    print(f"anchor {statistics.median(times):.1f}")


def floor(threads, repeats):
    """Child process: GFLOP/s of one large 3x3 convolution, the best this LibTorch does on this CPU."""
    import torch
    torch.set_num_threads(threads)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).eval()
    x = torch.rand(4, 256, 64, 64)
    flops = 2 * 256 * 256 * 9 * 64 * 64 * 4
    with torch.inference_mode():
        conv(x), conv(x)  # oneDNN builds its primitive on the first calls
        best = min(timed(lambda: conv(x)) for _ in range(max(5, repeats)))
    print(f"floor {flops / best / 1e9:.1f}")


def timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(command, environment=None):
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))}: {result.stderr.strip()}")
    return result.stdout.split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build", type=Path)
    parser.add_argument("--widths", default="1,0.25")
    parser.add_argument("--batches", default="1,4,8,16")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    engine = arguments.build / "benchmarks/focusnet-engine-speed"
    focusnet = arguments.build / "apps/focusnet"
    plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    preloaded = dict(plain, LD_PRELOAD=TCMALLOC)
    me = [sys.executable, __file__]

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    flags = open("/proc/cpuinfo").read()
    print(f"CPU: {cpu}; {os.cpu_count()} logical CPUs; avx2 {'avx2' in flags}, avx512f {'avx512f' in flags}, "
          f"avx512_bf16 {'avx512_bf16' in flags}, amx {'amx_tile' in flags}")
    print(f"repeats {arguments.repeats}, 256 x 256 slices, ms per slice (median)\n")
    isa_cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    bf16 = ("avx512_bf16" in flags or "amx_bf16" in flags) and not isa_cap.startswith(("SSE", "AVX2", "AVX_"))
    if isa_cap != "ALL":
        print(f"oneDNN limited to ONEDNN_MAX_CPU_ISA={isa_cap}, ATen to "
              f"ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', 'default')}")
    header = ("| width | threads | batch | C++ | Python | Python + tcmalloc | floor | C++ GFLOP/s | C++ / Python | "
              "C++ / Python+tcmalloc | C++ / floor |" + (" C++ bf16 | bf16 / fp32 |" if bf16 else ""))
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    with tempfile.TemporaryDirectory() as work:
        floors = {t: float(run([*me, "--floor", str(t), str(arguments.repeats)], preloaded)[1])
                  for t in map(int, arguments.threads.split(","))}
        for width in arguments.widths.split(","):
            model = Path(work) / f"focusnet-{width}.fnm"
            run([focusnet, "init", "focusnet", model, "--width", width])
            for threads in map(int, arguments.threads.split(",")):
                for batch in map(int, arguments.batches.split(",")):
                    common = [model, str(batch), str(threads), str(arguments.repeats)]
                    ours = run([engine, *common])
                    cpp, macs = float(ours[1]), int(ours[4])
                    python = float(run([*me, "--anchor", *map(str, common)], plain)[1])
                    python_tc = float(run([*me, "--anchor", *map(str, common)], preloaded)[1])
                    floor_ms = 2 * macs / floors[threads] / 1e6
                    row = (f"| {width} | {threads} | {batch} | {cpp:.1f} | {python:.1f} | {python_tc:.1f} | "
                           f"{floor_ms:.1f} | {2 * macs / cpp / 1e6:.1f} | {cpp / python:.2f} | {cpp / python_tc:.2f} | "
                           f"{cpp / floor_ms:.2f} |")
                    if bf16:
                        half = float(run([engine, *common, "bf16"])[1])
                        row += f" {half:.1f} | {half / cpp:.2f} |"
                    print(row, flush=True)
    print("\nfloor: " + ", ".join(f"{t} thread(s) {g} GFLOP/s" for t, g in floors.items()))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--anchor":
        anchor(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--floor":
        floor(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
