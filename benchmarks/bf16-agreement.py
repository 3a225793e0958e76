#!/usr/bin/env python3
"""Label maps in bf16 against fp32, on the real lung slices, with the Python bindings.

    /usr/bin/python3 benchmarks/bf16-agreement.py BUILD_DIR [MODEL] [--threads 2]

Segments every Kaggle lung slice (../shared/data/kaggle_lung_ct_2d) with Model(precision='fp32') and
Model(precision='bf16') and prints the Dice between the two label maps (pooled over all pixels, and the lowest
slice), each one's Dice against the manual masks, and ms per slice of each. Needs a CPU with AVX512-BF16 or AMX.
Dice is computed here with numpy, not with FocusNet's metrics.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def dice(a, b):
    a, b = a != 0, b != 0
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * np.logical_and(a, b).sum() / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build", type=Path)
    parser.add_argument("model", nargs="?", default=str(HERE.parent / "test_data/models/focusnet-lung.fnm"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/kaggle_lung_ct_2d")
    arguments = parser.parse_args()
    sys.path.insert(0, str(arguments.build / "wrapping/lib/python3/dist-packages"))
    import focusnet
    if not focusnet.native_bf16():
        print("this CPU has neither AVX512-BF16 nor AMX: bf16 is not offered here")
        return 1
    images = sorted((arguments.data / "images").glob("*.tif"))
    models = {p: focusnet.Model(arguments.model, device="cpu", threads=arguments.threads, precision=p)
              for p in ("fp32", "bf16")}
    labels = {p: [] for p in models}
    seconds = {p: 0.0 for p in models}
    masks = []
    for path in images:
        image = focusnet.read_image(path)
        masks.append(focusnet.read_image(arguments.data / "masks" / path.name)[0] != 0)
        for precision, model in models.items():
            start = time.perf_counter()
            labels[precision].append(model.segment(*image))
            seconds[precision] += time.perf_counter() - start
    per_slice = [dice(a, b) for a, b in zip(labels["fp32"], labels["bf16"])]
    pooled = dice(np.concatenate([l.ravel() for l in labels["fp32"]]),
                  np.concatenate([l.ravel() for l in labels["bf16"]]))
    truth = np.concatenate([m.ravel() for m in masks])
    print(f"{len(images)} slices, model {arguments.model}, {arguments.threads} threads")
    print(f"Dice bf16 vs fp32: pooled {pooled:.5f}, lowest slice {min(per_slice):.5f}, "
          f"slices below 0.999: {sum(d < 0.999 for d in per_slice)}")
    for precision in models:
        against = dice(np.concatenate([l.ravel() for l in labels[precision]]), truth)
        print(f"{precision}: Dice against the manual masks {against:.4f}, "
              f"{1000 * seconds[precision] / len(images):.1f} ms/slice (whole 512 x 512 slices, warm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
