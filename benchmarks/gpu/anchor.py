#!/usr/bin/env python3
"""The PyTorch anchor of the GPU check: the same network (benchmarks/focusnet_torch.py, the same model file's
weights), eager, on the same slices from host memory with probabilities back in host memory, as the engine runs them:
normalised, resampled to the network's 256 x 256 (antialiased) when SIZE differs, the logits resampled back
(bilinear), the sigmoid.

    python3 benchmarks/gpu/anchor.py MODEL_FILE|WIDTH BATCH DEVICE [REPEATS] [SIZE] [SLICES]

Prints "anchor <slices/s fp32> <slices/s bf16 autocast + channels-last>" (medians of REPEATS passes over SLICES
slices, default max(BATCH, 64), whole batches, after a warm-up pass).
"""
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from focusnet_torch import build  # noqa: E402


NETWORK_SIZE = 256


def slices_per_second(network, x, batch, device, bf16, repeats):
    size = x.shape[-1]

    def one_pass():
        for b in range(0, x.shape[0], batch):
            chunk = (x[b:b + batch].to(device) - 100.0) / 50.0
            if size != NETWORK_SIZE:
                chunk = F.interpolate(chunk, size=(NETWORK_SIZE, NETWORK_SIZE), mode="bilinear",
                                      align_corners=False, antialias=size > NETWORK_SIZE)
            if bf16:
                chunk = chunk.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                logits = network(chunk).float()
            if size != NETWORK_SIZE:
                logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
            torch.sigmoid(logits).cpu()

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
    size = int(sys.argv[5]) if len(sys.argv) > 5 else NETWORK_SIZE
    count = max(batch, int(sys.argv[6]) if len(sys.argv) > 6 else 64) // batch * batch
    torch.backends.cudnn.benchmark = True  # as the engine sets it on CUDA
    network = build(what).to(device).eval()
    x = torch.rand(count, 1, size, size, generator=torch.Generator().manual_seed(7)) * 255
    fp32 = slices_per_second(network, x, batch, device, False, repeats)
    bf16 = slices_per_second(network.to(memory_format=torch.channels_last), x, batch, device, True, repeats)
    print(f"anchor {fp32:.1f} {bf16:.1f}")


if __name__ == "__main__":
    main()
