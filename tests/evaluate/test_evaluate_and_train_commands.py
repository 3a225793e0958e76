"""`focusnet evaluate` and `focusnet-train` as a user runs them, checked against values computed here with numpy.

evaluate: the label maps come from `focusnet segment` (read back by this file's NRRD parser); the metrics, their
per-image mean and sample standard deviation, the pooled counts and the HD95 in millimetres (anisotropic pixels) are
computed here from those label maps and the masks, and compared with the printed table and the --csv file.
focusnet-train: the files a run writes, the seeded split, and the normalisation stored in the model, which must be
the mean and standard deviation of the training split's pixels (computed here from the images that training.txt
lists). Run by ctest with Debian's /usr/bin/python3.
"""
import csv
import json
import os
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from focusnet_test_files import read_nrrd, write_disc_pairs, write_nrrd

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
TRAIN = os.environ.get("FOCUSNET_TRAIN_EXECUTABLE", "")
MODEL = Path(os.environ["FOCUSNET_SOURCE_DIR"]) / "test_data/models/focusnet-lung.fnm"
KAGGLE = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent")) / "kaggle_lung_ct_2d"
SPACING = (0.7, 1.3)  # x, y in mm: anisotropic, so that HD95 in pixels and in mm differ


def outline(mask):
    """Foreground pixels with a background 4-neighbour or on the image's edge, as (y, x)."""
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return np.argwhere(mask & ~inner)


def hd95(a, b, spacing):
    """95th percentile (nearest rank) of the distances from each outline pixel to the other outline, both ways."""
    pa, pb = outline(a) * (spacing[1], spacing[0]), outline(b) * (spacing[1], spacing[0])
    distances = []
    for p, q in ((pa, pb), (pb, pa)):
        for start in range(0, len(p), 512):
            block = p[start:start + 512]
            distances.append(np.sqrt(((block[:, None, :] - q[None, :, :]) ** 2).sum(-1)).min(1))
    distances = np.sort(np.concatenate(distances))
    return distances[int(np.ceil(0.95 * len(distances))) - 1]


def metrics(truth, prediction):
    tp = int((truth & prediction).sum())
    fp = int((~truth & prediction).sum())
    tn = int((~truth & ~prediction).sum())
    fn = int((truth & ~prediction).sum())
    return dict(TP=tp, FP=fp, TN=tn, FN=fn, DI=2 * tp / (2 * tp + fp + fn), JI=tp / (tp + fp + fn),
                AC=(tp + tn) / (tp + fp + tn + fn), SE=tp / (tp + fn), SP=tn / (tn + fp))


@pytest.mark.skipif(not KAGGLE.is_dir(), reason="needs the shared Kaggle lung slices")
def test_real_data_evaluate_prints_and_writes_the_metrics_computed_here(tmp_path):
    names = ["ID_0000_Z_0142", "ID_0001_Z_0146", "ID_0003_Z_0132"]
    lines, expected, arrays = [], {}, {}
    for name in names:
        image = np.array(Image.open(KAGGLE / "images" / (name + ".tif"))).astype(np.int16)
        mask = np.array(Image.open(KAGGLE / "masks" / (name + ".tif")))
        write_nrrd(tmp_path / (name + ".nrrd"), image, SPACING)
        write_nrrd(tmp_path / (name + "-mask.nrrd"), mask, SPACING)
        lines.append("%s.nrrd,%s-mask.nrrd" % (name, name))
        result = subprocess.run([FOCUSNET, "segment", tmp_path / (name + ".nrrd"), tmp_path / (name + "-label.nrrd"),
                                 "--model", MODEL, "--threads", "2", "-q"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        labels = read_nrrd(tmp_path / (name + "-label.nrrd")) != 0
        arrays[name] = (mask != 0, labels)
        expected[name] = metrics(mask != 0, labels)
        expected[name]["HD95"] = hd95(mask != 0, labels, SPACING)
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    result = subprocess.run([FOCUSNET, "evaluate", "--model", MODEL, "--list", tmp_path / "list.txt", "--csv",
                             tmp_path / "metrics.csv", "--threads", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    rows = {row["name"]: row for row in csv.DictReader((tmp_path / "metrics.csv").open())}
    for name in names:
        for key, value in expected[name].items():
            if key in ("TP", "FP", "TN", "FN"):
                assert int(rows[name][key]) == value, (name, key)
            else:
                assert float(rows[name][key]) == pytest.approx(value, rel=2e-6), (name, key)
    pooled = {key: sum(expected[n][key] for n in names) for key in ("TP", "FP", "TN", "FN")}
    tp, fp, tn, fn = pooled["TP"], pooled["FP"], pooled["TN"], pooled["FN"]
    pooled_metrics = dict(DI=2 * tp / (2 * tp + fp + fn), JI=tp / (tp + fp + fn), AC=(tp + tn) / (tp + fp + tn + fn),
                          SE=tp / (tp + fn), SP=tn / (tn + fp))
    for key in ("TP", "FP", "TN", "FN"):
        assert int(rows["(pooled)"][key]) == pooled[key]
    for key, value in pooled_metrics.items():
        assert float(rows["(pooled)"][key]) == pytest.approx(value, rel=2e-6), key

    # The printed table: pooled values, then per image mean ± sample standard deviation (4 decimals, HD95 2).
    table = result.stdout
    pooled_line = next(line for line in table.splitlines() if line.startswith("| pooled"))
    assert [float(v) for v in re.findall(r"\d+\.\d+", pooled_line)] == \
        [round(pooled_metrics[k], 4) for k in ("DI", "JI", "AC", "SE", "SP")]
    per_image = next(line for line in table.splitlines() if line.startswith("| per image"))
    numbers = [float(v) for v in re.findall(r"\d+\.\d+", per_image)]
    for k, key in enumerate(("DI", "JI", "AC", "SE", "SP", "HD95")):
        values = np.array([expected[n][key] for n in names])
        digits = 2 if key == "HD95" else 4
        assert numbers[2 * k] == pytest.approx(round(values.mean(), digits), abs=1.01 * 10 ** -digits), key
        assert numbers[2 * k + 1] == pytest.approx(round(values.std(ddof=1), digits), abs=1.01 * 10 ** -digits), key
    # In millimetres, not pixels: at unit spacing the first slice's HD95 would be another number.
    truth, labels = arrays[names[0]]
    assert float(rows[names[0]]["HD95"]) != pytest.approx(hd95(truth, labels, (1.0, 1.0)), rel=1e-3)


@pytest.mark.skipif(not KAGGLE.is_dir(), reason="needs the shared Kaggle lung slices")
def test_real_data_evaluate_reads_image_and_mask_folders_and_tta_is_the_commands(tmp_path):
    """--images/--masks pair files by name; --tta gives the metrics of `focusnet segment --tta`'s label maps."""
    names = ["ID_0000_Z_0142", "ID_0003_Z_0132"]
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    expected = {}
    for name in names:
        image = np.array(Image.open(KAGGLE / "images" / (name + ".tif"))).astype(np.int16)[::2, ::2]
        mask = np.array(Image.open(KAGGLE / "masks" / (name + ".tif")))[::2, ::2]
        write_nrrd(tmp_path / "images" / (name + ".nrrd"), image, SPACING)
        write_nrrd(tmp_path / "masks" / (name + ".nrrd"), mask, SPACING)
        for tta in ([], ["--tta"]):
            label = tmp_path / ("%s%s-label.nrrd" % (name, "-tta" if tta else ""))
            result = subprocess.run([FOCUSNET, "segment", tmp_path / "images" / (name + ".nrrd"), label, "--model",
                                     MODEL, "--threads", "2", "-q", *tta], capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            expected[name, bool(tta)] = metrics(mask != 0, read_nrrd(label) != 0)
    # A mask with no image, first in the folder: pairing by order instead of by name would take it.
    write_nrrd(tmp_path / "masks" / "A_no_image.nrrd", np.full_like(mask, 255), SPACING)
    for tta in ([], ["--tta"]):
        csv_file = tmp_path / ("metrics%s.csv" % ("-tta" if tta else ""))
        result = subprocess.run([FOCUSNET, "evaluate", "--model", MODEL, "--images", tmp_path / "images", "--masks",
                                 tmp_path / "masks", "--csv", csv_file, "--threads", "2", *tta],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        rows = {row["name"]: row for row in csv.DictReader(csv_file.open())}
        for name in names:
            for key in ("TP", "FP", "TN", "FN"):
                assert int(rows[name][key]) == expected[name, bool(tta)][key], (name, key, tta)
    # The mirror images change the label maps of these slices, so the two runs above were told apart.
    assert any(expected[name, True]["TP"] != expected[name, False]["TP"] for name in names)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """10 synthetic 16-bit image/mask pairs (discs on noise) written with Pillow."""
    return write_disc_pairs(tmp_path_factory.mktemp("pairs"), 10, 40, seed=4, dtype=np.uint16, background=(300, 80),
                            brighter=500).parent


@pytest.mark.skipif(not TRAIN, reason="focusnet-train is not built")
def test_training_writes_its_files_and_stores_the_training_splits_statistics(pairs, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([TRAIN, "--list", pairs / "list.txt", "-o", out, "--epochs", "2", "--size", "32",
                             "--width", "0.125", "--min-channels", "4", "--threads", "1", "--seed", "3",
                             "--val-fraction", "0.3", "--modality", "CT"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "learning-curve.svg", "log.csv", "model.fnm",
                                                      "training.txt", "validation.txt"]
    def images_of(listing):
        return [line.split(",")[0] for line in listing.read_text().splitlines() if line and not line.startswith("#")]
    training, validation = images_of(out / "training.txt"), images_of(out / "validation.txt")
    assert len(validation) == 3 and len(training) == 7  # round(0.3 x 10)
    assert sorted(Path(p).name for p in training + validation) == sorted("image%02d.png" % k for k in range(10))
    assert len(list(csv.DictReader((out / "log.csv").open()))) == 2

    # The normalisation: mean and (population) standard deviation of the training split's pixels.
    pixels = np.concatenate([np.array(Image.open(p if Path(p).is_absolute() else out / p)).ravel().astype(np.float64)
                             for p in training])
    data = (out / "model.fnm").read_bytes()
    header = json.loads(data[20:20 + struct.unpack_from("<Q", data, 12)[0]])
    normalization = header["metadata"]["normalization"]
    assert normalization["kind"] == "meanstd"
    assert normalization["mean"][0] == pytest.approx(pixels.mean(), rel=1e-9)
    assert normalization["std"][0] == pytest.approx(pixels.std(), rel=1e-9)

    # The quality reference (docs/quality-control.md): the training images' intensity quantiles (each image's, from
    # every pixel of these small ones, pooled with equal weights), their masks' label fraction range widened 1.5
    # times, the modality; the limits come from the validation images' results.
    def pairs_of(listing):
        return [[Path(p) if Path(p).is_absolute() else out / p for p in line.split(",")]
                for line in listing.read_text().splitlines() if line and not line.startswith("#")]
    levels = np.linspace(0, 1, 21)
    quality = header["metadata"]["quality"]
    images = [np.array(Image.open(image)).astype(np.float64) for image, _ in pairs_of(out / "training.txt")]
    pooled = np.quantile(np.concatenate([np.quantile(image.ravel(), levels) for image in images]), levels)
    assert quality["intensity_quantiles"] == pytest.approx(pooled, rel=1e-12)
    fractions = [np.mean(np.array(Image.open(mask)) != 0) for _, mask in pairs_of(out / "training.txt")]
    fractions = [f for f in fractions if f > 0]  # over the masks with label
    assert quality["label_fraction"] == pytest.approx([min(fractions) / 1.5, min(1.0, max(fractions) * 1.5)])
    assert quality["modality"] == "CT"
    # The input's noise limit: 1.5 times the largest noise among the validation images (the median absolute
    # difference of horizontal neighbours over 0.954; every pair of these small images); the aspect range: the
    # training images' (the spread in y over that in x of their pixels above the pooled median) widened 1.5 times
    # about its middle.
    noise = [np.median(np.abs(np.diff(np.array(Image.open(image)).astype(np.float64), axis=1))) / 0.954
             for image, _ in pairs_of(out / "validation.txt")]
    assert quality["limits"]["input_noise"] == pytest.approx(1.5 * max(noise), rel=1e-9)
    aspects = [np.std(y) / np.std(x) for y, x in (np.nonzero(image > pooled[10]) for image in images)]
    middle, half = (min(aspects) + max(aspects)) / 2, 1.5 * (max(aspects) - min(aspects)) / 2
    assert quality["input_aspect"] == pytest.approx([max(0.0, middle - half), middle + half], rel=1e-9)
    assert all(value >= 0 for value in quality["limits"].values()), quality["limits"]
    # Shares: their limits are at most 1.
    assert all(quality["limits"][name] <= 1 for name in ["uncertain_outline_share", "flip_disagreement"])
    assert "3 validation images" in quality["method"]

    # focusnet calibrate measures the same reference for a model made before, and keeps its weights byte for byte.
    calibrated = tmp_path / "calibrated.fnm"
    command = [FOCUSNET, "calibrate", out / "model.fnm", calibrated, "--training", out / "training.txt",
               "--validation", out / "validation.txt", "--threads", "1"]
    refused = subprocess.run(command + ["--modality", "ct"], capture_output=True, text=True)
    assert refused.returncode != 0 and not calibrated.exists()
    assert refused.stderr.strip().splitlines() == [
        "focusnet: error: modality must be a DICOM modality such as CT or MR (capitals, at most 16), not 'ct'"]
    subprocess.run(command + ["--modality", "CT"], check=True, capture_output=True)
    again = calibrated.read_bytes()
    again_header = json.loads(again[20:20 + struct.unpack_from("<Q", again, 12)[0]])
    assert again[-header["payload_bytes"]:] == data[-header["payload_bytes"]:]
    again_quality = again_header["metadata"]["quality"]
    for key in ("intensity_quantiles", "label_fraction", "modality"):
        assert again_quality[key] == quality[key], key
    for name, value in quality["limits"].items():  # inference threads may differ from training's
        assert again_quality["limits"][name] == pytest.approx(value, rel=1e-4, abs=1e-9), name

    # The same command again refuses to overwrite the run, and names --resume.
    again = subprocess.run([TRAIN, "--list", pairs / "list.txt", "-o", out, "--epochs", "2"], capture_output=True,
                           text=True)
    assert again.returncode != 0 and "--resume" in again.stderr, again.stderr
