#!/usr/bin/env python3
"""The PyTorch anchor of the GPU check: the same network (benchmarks/focusnet_torch.py, the same model file's
weights), eager, on the same 256 x 256 slices from host memory with probabilities back in host memory.

    python3 benchmarks/gpu/anchor.py MODEL_FILE|WIDTH BATCH DEVICE [REPEATS]

Prints "anchor <slices/s fp32> <slices/s bf16 autocast + channels-last>" (medians of REPEATS passes over
max(BATCH, 64) slices, after a warm-up pass).
"""
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from focusnet_torch import build  # noqa: E402


def slices_per_second(network, x, batch, device, bf16, repeats):
    def one_pass():
        for b in range(0, x.shape[0], batch):
            chunk = x[b:b + batch].to(device)
            if bf16:
                chunk = chunk.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                torch.sigmoid(network(chunk)).float().cpu()

    times = []
    with torch.inference_mode():
        one_pass()  # warm-up: kernels chosen, memory cached
        for _ in range(repeats):
            start = time.perf_counter()
            one_pass()
            times.append(time.perf_counter() - start)
    return x.shape[0] / statistics.median(times)


def main():
    what, batch, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    network = build(what).to(device).eval()
    count = max(batch, 64) // batch * batch
    x = torch.rand(count, 1, 256, 256, generator=torch.Generator().manual_seed(7))
    fp32 = slices_per_second(network, x, batch, device, False, repeats)
    bf16 = slices_per_second(network.to(memory_format=torch.channels_last), x, batch, device, True, repeats)
    print(f"anchor {fp32:.1f} {bf16:.1f}")


if __name__ == "__main__":
    main()
