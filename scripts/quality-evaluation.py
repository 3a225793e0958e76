#!/usr/bin/python3
"""The evaluation of docs/quality-control.md, reproduced: prints its tables as markdown.

    /usr/bin/python3 scripts/quality-evaluation.py [BUILD_DIR] [--model FILE]

Needs a build (the focusnet command and the Python module, default build/), ../shared/data beside the repository,
numpy and scipy. It runs `focusnet evaluate` on the 43 validation slices (signals, flags and Dice per slice), then
segments what the model should not be trusted on: the abdominal CT and MR series, the single DICOM files, the ISIC
photographs, and the validation slices made wrong on purpose, without and with --tta; then the clean-up recipes,
and what the training slices already hold. About twelve minutes on two cores.
"""
import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

SOURCE = Path(__file__).resolve().parent.parent
SHARED = SOURCE.parent / "shared" / "data"
SIGNALS = ["mean_entropy_bits", "uncertain_outline_share", "stray_share", "largest_slice_label", "intensity_distance",
           "input_noise", "input_aspect", "flip_disagreement", "components"]
# The signals whose limit is Margin times the largest among the validation slices (flip_disagreement: with --tta).
LIMITED = ["mean_entropy_bits", "uncertain_outline_share", "stray_share", "intensity_distance", "input_noise",
           "flip_disagreement"]
SHARES = ["uncertain_outline_share", "flip_disagreement"]  # limits of at most 1

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("build", nargs="?", default=str(SOURCE / "build"))
parser.add_argument("--model", default=str(SOURCE / "test_data/models/focusnet-lung.fnm"))
arguments = parser.parse_args()
build = Path(arguments.build)
sys.path[:0] = [str(build / "wrapping/lib/python3/dist-packages"), str(SOURCE / "tests/common")]
import focusnet  # noqa: E402
from focusnet_test_files import read_nrrd, write_nrrd  # noqa: E402

EXECUTABLE = str(build / "apps/focusnet")
model = focusnet.Model(arguments.model, threads=2)
reference = model.metadata["quality"]
limits = reference["limits"]


def read_tiff_hu(path):
    """A Kaggle lung slice (16-bit signed TIFF, Hounsfield units) through FocusNet's own reader."""
    array, *_ = focusnet.read_image(str(path))
    return np.asarray(array, dtype=np.float32)


# 1. The validation split: signals, flags and Dice per slice; the flips' disagreement from a second run with --tta.
def evaluate_validation(*more):
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "validation.csv"
        subprocess.run([EXECUTABLE, "evaluate", "--model", arguments.model, "--list",
                        str(SOURCE / "docs/training/lung-validation-split.txt"), "--csv", str(table), "--threads", "2"]
                       + list(more), check=True, capture_output=True)
        return [row for row in csv.DictReader(table.open()) if row["name"] != "(pooled)"]


rows = evaluate_validation()
flipped_rows = evaluate_validation("--tta")  # the same slices, in the same order
dice = np.array([float(r["DI"]) for r in rows])
print("## The %d validation slices\n" % len(rows))
print("Each signal without `--tta`, but flip_disagreement, which only `--tta` measures.\n")
print("| signal | min | median | max | limit | Spearman with Dice (p) |\n|---|---|---|---|---|---|")
for name in SIGNALS:
    values = np.array([float(r[name]) for r in (flipped_rows if name == "flip_disagreement" else rows)])
    rho, p = stats.spearmanr(values, dice)
    limit = limits.get(name, None)
    if name == "largest_slice_label":
        limit = "%.3f to %.3f" % tuple(reference["label_fraction"])
    if name == "input_aspect":
        limit = "%.3f to %.3f" % tuple(reference["input_aspect"])
    print("| %s | %.4g | %.4g | %.4g | %s | %+.2f (%.2g) |" % (
        name, values.min(), np.median(values), values.max(),
        limit if isinstance(limit, str) else ("%.4g" % limit if limit is not None else "-"), rho, p))
runs = {"": rows, " with --tta": flipped_rows}
print()
for what, run in runs.items():
    flagged = [r for r in run if r["flags"]]
    print("Flagged with the model's limits (set on these slices)%s: %d of %d%s" % (
        what, len(flagged), len(run), "".join("; %s: %s" % (r["name"], r["flags"]) for r in flagged)))

# Leave one out: each slice judged by limits set on the 42 others, as a new slice would be; set as calibrate sets them
# (on the plain run, the flips' disagreement on the --tta run), and applied to either run.
margin = 1.5
for what, run in runs.items():
    left_out = []
    for i, row in enumerate(run):
        reasons = []
        for name in LIMITED:
            if not row[name]:
                continue  # flip_disagreement without --tta
            source = flipped_rows if name == "flip_disagreement" else rows
            limit = margin * max(float(r[name]) for j, r in enumerate(source) if j != i)
            if name in SHARES:
                limit = min(1.0, limit)
            if float(row[name]) > limit:
                reasons.append(name)
        aspect_low, aspect_high = reference["input_aspect"]  # from the training slices, not the validation ones
        if not aspect_low <= float(row["input_aspect"]) <= aspect_high:
            reasons.append("input_aspect")
        fraction = float(row["largest_slice_label"])
        if int(float(row["components"])) and not (
                reference["label_fraction"][0] <= fraction <= reference["label_fraction"][1]):
            reasons.append("label fraction")
        if float(row["components"]) == 0:
            reasons.append("no-target")
        if reasons:
            left_out.append("%s (%s)" % (row["name"], ", ".join(reasons)))
    print("Flagged with limits set on the other 42 (leave one out)%s: %d of %d (%.1f%%)%s" % (
        what, len(left_out), len(run), 100.0 * len(left_out) / len(run), "".join("; " + s for s in left_out)))
print()
wrong = [i for i, r in enumerate(rows) if r["name"] == "ID_0134_Z_0137"]
if wrong:
    r, f = rows[wrong[0]], flipped_rows[wrong[0]]
    print("The slice whose reference mask is wrong, ID_0134_Z_0137: Dice %.3f, %s, flags: %s (with --tta: %s)\n" % (
        float(r["DI"]), ", ".join("%s %.4g" % (n, float((f if n == "flip_disagreement" else r)[n])) for n in SIGNALS),
        r["flags"] or "none", f["flags"] or "none"))

# 2. What the model should not be trusted on.
results = []


def judge(what, path, mask=None):
    """Segments path, with and without --tta; with a mask (numpy), also the Dice of the label map against it."""
    with tempfile.TemporaryDirectory() as folder:
        result = model.segment_file(str(path), str(Path(folder) / "label.nrrd"))
        result["flags with --tta"] = model.segment_file(str(path), str(Path(folder) / "flipped.nrrd"),
                                                          tta=True)["flags"]
        if mask is not None:
            labels = read_nrrd(Path(folder) / "label.nrrd") != 0
            truth = mask != 0
            total = labels.sum() + truth.sum()
            result["dice"] = 2.0 * (labels & truth).sum() / total if total else 1.0
    results.append((what, result))


judge("abdominal CT series (20 slices)", SHARED / "dicom_samples/ct_series_totalsegmentator")
judge("MR series", SHARED / "dicom_samples/mr_series_babymri")
for single in sorted((SHARED / "dicom_samples/single").iterdir()):
    judge("single DICOM " + single.name, single)
for photo in sorted((SHARED / "isic2017_sample/images").iterdir()):
    judge("ISIC photograph " + photo.stem, photo)

pairs = [line.split(",") for line in (SOURCE / "docs/training/lung-validation-split.txt").read_text().splitlines()
         if line and not line.startswith("#")]
rng = np.random.default_rng(0)

def body(a):
    return np.ix_(*(np.flatnonzero(np.any(a > -500, axis=k)) for k in (1, 0)))


# Each way of breaking a slice: (the image, its mask) -> both as the broken slice shows them.
broken = {
    "noise (sd 300 HU added)": lambda a, m: (a + rng.normal(0, 300, a.shape).astype(np.float32), m),
    "raw stored values (HU + 1024)": lambda a, m: (a + 1024, m),
    "flipped up-down": lambda a, m: (a[::-1], m[::-1]),
    "rotated 90 degrees": lambda a, m: (np.rot90(a), np.rot90(m)),
    "cropped to the body": lambda a, m: (a[body(a)], m[body(a)]),
}
with tempfile.TemporaryDirectory() as folder:
    for how, make in broken.items():
        for image_file, mask_file in pairs:
            image, mask = make(read_tiff_hu((SOURCE / "docs/training" / image_file).resolve()),
                               read_tiff_hu((SOURCE / "docs/training" / mask_file).resolve()))
            path = Path(folder) / "broken.nrrd"
            write_nrrd(path, np.ascontiguousarray(image, dtype=np.float32))
            judge("validation slice, " + how, path, np.ascontiguousarray(mask))

print("## Inputs the model should not be trusted on\n")
print("| input | n | flagged | flags raised (count) | flagged with --tta | Dice: median; flagged of those below 0.9 |\n"
      "|---|---|---|---|---|---|")
groups = {}
for what, result in results:
    key = what.split(" ISIC")[0] if what.startswith("ISIC") else what
    key = "ISIC photographs" if what.startswith("ISIC") else key
    groups.setdefault(key, []).append(result)
for key, group in groups.items():
    counts = {}
    for result in group:
        for name in result["flags"]:
            counts[name] = counts.get(name, 0) + 1
    dice = "-"
    if "dice" in group[0]:
        poor = [r for r in group if r["dice"] < 0.9]
        dice = "%.3f; %d of %d" % (np.median([r["dice"] for r in group]), sum(1 for r in poor if r["flags"]), len(poor))
    print("| %s | %d | %d | %s | %d | %s |" % (
        key, len(group), sum(1 for r in group if r["flags"]),
        ", ".join("%s (%d)" % kv for kv in sorted(counts.items())) or "none",
        sum(1 for r in group if r["flags with --tta"]), dice))
abdomen = results[0][1]
print("\nThe abdominal CT: %.1f mL of 'lung', flags: %s" % (
    abdomen["label_volume_mm3"] / 1000, "; ".join("%s: %s" % kv for kv in abdomen["flags"].items()) or "none"))

# 3. The clean-up: each recipe recorded by focusnet calibrate in a copy of the model, evaluated on the validation split
# with focusnet evaluate (Dice and HD95 before and after) and run on the abdominal CT.
print("\n## The clean-up on the validation split\n")
print("| recipe | Dice, pooled | Dice, per slice mean ± sd | HD95, mean ± sd | slices with a lower Dice | "
      "abdominal CT, mL |\n|---|---|---|---|---|---|")
recipes = {"none": [], "keep the 2 largest components": ["--keep-components", "2"], "fill holes": ["--fill-holes"],
           "keep 2, fill holes": ["--keep-components", "2", "--fill-holes"]}
before = None
with tempfile.TemporaryDirectory() as folder:
    for name, flags in recipes.items():
        recipe_model = Path(folder) / "recipe.fnm"
        subprocess.run([EXECUTABLE, "calibrate", arguments.model, str(recipe_model), "--modality", reference["modality"],
                        "--training", str(SOURCE / "docs/training/lung-training-split.txt"),
                        "--validation", str(SOURCE / "docs/training/lung-validation-split.txt"), "--threads", "2",
                        "--overwrite"] + flags, check=True, capture_output=True)
        table = Path(folder) / "validation.csv"
        subprocess.run([EXECUTABLE, "evaluate", "--model", str(recipe_model), "--list",
                        str(SOURCE / "docs/training/lung-validation-split.txt"), "--csv", str(table), "--threads", "2",
                        "--overwrite"], check=True, capture_output=True)
        rows = list(csv.DictReader(table.open()))
        per_slice = {r["name"]: (float(r["DI"]), float(r["HD95"])) for r in rows if r["name"] != "(pooled)"}
        pooled = next(float(r["DI"]) for r in rows if r["name"] == "(pooled)")
        before = before or per_slice
        lower = sum(1 for k, (d, _) in per_slice.items() if d < before[k][0] - 1e-9)
        d = np.array([v[0] for v in per_slice.values()])
        h = np.array([v[1] for v in per_slice.values()])
        abdomen = focusnet.Model(str(recipe_model), threads=2).segment_file(
            str(SHARED / "dicom_samples/ct_series_totalsegmentator"), str(Path(folder) / "abdomen.nrrd"), overwrite=True)
        print("| %s | %.4f | %.4f ± %.4f | %.2f ± %.2f | %d | %.1f |" % (
            name, pooled, d.mean(), d.std(ddof=1), h.mean(), h.std(ddof=1), lower, abdomen["label_volume_mm3"] / 1000))

# 4. Why no signal flags the flipped and the cropped slices: the training slices already look like them. With numpy, on
# the training and validation images: the body (above the training median, as input_aspect counts it) in the image's
# outer frame, and the centre of the bone (above the training images' 95 % quantile) against the body's, in the body's
# standard deviations (positive: below it, towards the back of a patient lying supine).
def layout(a):
    body, bone = a > reference["intensity_quantiles"][10], a > reference["intensity_quantiles"][19]
    frame = np.ones(a.shape, bool)
    edge = max(1, min(a.shape) // 32)
    frame[edge:-edge, edge:-edge] = False
    y = np.nonzero(body)[0]
    return body[frame].mean(), body.mean(), (np.nonzero(bone)[0].mean() - y.mean()) / y.std() if bone.any() else 0.0


def images_of(split):
    return [read_tiff_hu((SOURCE / "docs/training" / line.split(",")[0]).resolve())
            for line in (SOURCE / "docs/training" / split).read_text().splitlines()
            if line and not line.startswith("#")]


print("\n## What the training slices already hold\n")
print("| slices | body in the outer frame | body in the picture | bone centre below the body's (sd) |\n"
      "|---|---|---|---|")
validation_images = images_of("lung-validation-split.txt")
for name, images in [("171 training", images_of("lung-training-split.txt")), ("43 validation", validation_images),
                     ("43 validation, flipped up-down", [a[::-1] for a in validation_images]),
                     ("43 validation, cropped to the body", [a[body(a)] for a in validation_images])]:
    values = np.array([layout(a) for a in images])
    print("| %s | %s |" % (name, " | ".join("%.2f to %.2f" % (v.min(), v.max()) for v in values.T)))
