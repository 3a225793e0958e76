"""The quality signals every result carries, against numpy and scipy on the probability map FocusNet writes.

Each signal is recomputed here from the probabilities (NRRD, read by hand) with the definitions of
docs/quality-control.md: binary entropy in bits, the outline band (label pixels with a background pixel sharing an edge,
widened by a 5 x 5 square within each slice), uncertain pixels (entropy of at least 0.5 bit), and connected components
by scipy.ndimage.label (face-connected). Python's segment_file, focusnet segment's line and focusnet batch's
summary.json, summary.csv and --merge must report them. Run by ctest with Debian's /usr/bin/python3.
"""
import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

import focusnet
from focusnet_test_files import read_nrrd, write_nrrd

EXECUTABLE = os.environ["FOCUSNET_EXECUTABLE"]
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED_DATA = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
LUNG_SLICE = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"
LUNG_MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
CT_SERIES = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
NAMES = ["mean_entropy_bits", "uncertain_outline_share", "components", "stray_share", "slices_with_label",
         "largest_slice_label", "intensity_distance", "input_noise", "input_aspect", "flip_disagreement"]
LEVELS = np.linspace(0, 1, 21)


def entropy_bits(p):
    p = p.astype(np.float64)
    inside = (p > 0) & (p < 1)
    q = np.where(inside, p, 0.5)
    return np.where(inside, -(q * np.log2(q) + (1 - q) * np.log2(1 - q)), 0.0)


def intensity_distance(image, reference):
    """Each slice's intensity quantiles from a regular sample of at most 16384 pixels, pooled over the slices (each
    weighing the same), against the model's training quantiles: the mean absolute difference of the 5 % ... 95 %
    quantiles over the reference's 95 % - 5 % range."""
    image = image.reshape((-1,) + image.shape[-2:])
    step = -(-image[0].size // 16384)
    pooled = np.quantile(np.concatenate([np.quantile(z.ravel()[::step].astype(np.float64), LEVELS) for z in image]),
                         LEVELS)
    r = np.array(reference["intensity_quantiles"])
    return np.abs(pooled[1:20] - r[1:20]).mean() / (r[19] - r[1])


def input_noise(image):
    """Each slice's noise: the median absolute difference of horizontal neighbours, from a regular sample of at most
    16384 of the pairs (counted row by row), over 0.954; the median of the slices'."""
    image = image.reshape((-1,) + image.shape[-2:]).astype(np.float64)
    differences = np.abs(np.diff(image, axis=2)).reshape(len(image), -1)  # the pairs, row by row
    step = -(-differences.shape[1] // 16384)
    return np.median([np.median(d[::step]) / 0.954 for d in differences])


def input_aspect(image, reference, spacing=(1.0, 1.0)):
    """The pixels above the training images' median intensity, all slices pooled: the standard deviation of their y
    over that of their x, in physical units (spacing: x, y)."""
    image = image.reshape((-1,) + image.shape[-2:])
    z, y, x = np.nonzero(image > reference["intensity_quantiles"][10])
    return np.std(y * spacing[1]) / np.std(x * spacing[0])


def signals(probabilities, threshold, image, reference, spacing=(1.0, 1.0)):
    """The signals of a (z, y, x) probability volume (one slice for a 2D image) and its input image, computed
    independently of FocusNet; flip_disagreement is NaN (no --tta)."""
    p = probabilities.reshape((-1,) + probabilities.shape[-2:])
    label = p >= threshold
    h = entropy_bits(p)
    cross = ndimage.generate_binary_structure(2, 1)[None]  # within a slice only
    # An outline pixel has a background pixel beside it inside the image: erosion with the border counted as label.
    outline = label & ~ndimage.binary_erosion(label, structure=cross, border_value=1)
    band = ndimage.binary_dilation(outline, structure=np.ones((1, 5, 5), bool))
    components, count = ndimage.label(label)  # 6-connected in 3D, 4-connected in 2D
    sizes = np.sort(np.bincount(components.ravel())[1:])[::-1]
    total = int(label.sum())
    return {
        "mean_entropy_bits": h.mean(),
        "uncertain_outline_share": (band & (h >= 0.5)).sum() / band.sum() if band.any() else 0.0,
        "components": count,
        "stray_share": (total - sizes[:2].sum()) / total if total else 0.0,
        "slices_with_label": int((label.reshape(len(p), -1).sum(axis=1) > 0).sum()),
        "largest_slice_label": label.reshape(len(p), -1).mean(axis=1).max(),
        "intensity_distance": intensity_distance(image, reference),
        "input_noise": input_noise(image),
        "input_aspect": input_aspect(image, reference, spacing),
        "flip_disagreement": float("nan"),
    }


def numbers(values):
    """Signals as numbers: summary.json writes NaN as null, the CSVs as an empty field."""
    return {name: float("nan") if value in (None, "") else float(value) for name, value in values.items()}


def assert_signals(reported, expected, what, names=NAMES):
    assert list(reported) == names, what
    reported = numbers(reported)
    for name in names:
        # The uncertain share may differ by a pixel whose entropy is 0.5 bit to float precision.
        tolerance = 2e-4 if name == "uncertain_outline_share" else 1e-6
        assert reported[name] == pytest.approx(expected[name], rel=1e-5, abs=tolerance, nan_ok=True), (what, name)


@pytest.fixture(scope="module")
def model():
    return focusnet.Model(str(LUNG_MODEL), threads=2)


def read_series_hu(folder):
    """A CT series in Hounsfield units with pydicom, one array per file (the order does not matter to the series'
    signals), and its pixel spacing in x and y."""
    slices = []
    for path in sorted(Path(folder).iterdir()):
        data = pydicom.dcmread(path)
        slices.append(data.pixel_array * float(data.get("RescaleSlope", 1)) + float(data.get("RescaleIntercept", 0)))
        row_spacing, column_spacing = (float(v) for v in data.PixelSpacing)
    return np.array(slices), (column_spacing, row_spacing)


def segment(model, path, folder, **more):
    """Python's segment_file, with the probability map read back for the oracle."""
    result = model.segment_file(str(path), str(folder / "label.nrrd"), probabilities=str(folder / "p.nrrd"),
                                overwrite=True, **more)
    return result, read_nrrd(folder / "p.nrrd", np.float32)


def test_lung_slice_signals_match_numpy_and_raise_no_flag(model, tmp_path):
    result, p = segment(model, LUNG_SLICE, tmp_path)
    label = read_nrrd(tmp_path / "label.nrrd")
    threshold, reference = model.metadata["threshold"], model.metadata["quality"]
    assert np.array_equal(label != 0, p >= threshold)
    # FocusNet's reader gives the TIFF's int16 values; the signals are computed from them here.
    image = np.asarray(focusnet.read_image(str(LUNG_SLICE))[0], np.float64)
    expected = signals(p, threshold, image, reference)
    assert_signals(result["quality"], expected, "segment_file")
    # A good lung slice: two lungs, confident inside and out, no flag.
    assert expected["components"] >= 2 and expected["mean_entropy_bits"] < 0.05
    assert result["flags"] == {}

    # focusnet segment prints the same signals in words, and no flag; --uncertainty writes each pixel's entropy.
    lines = subprocess.run([EXECUTABLE, "segment", str(LUNG_SLICE), str(tmp_path / "again.nrrd"), "--threads", "2",
                            "--uncertainty", str(tmp_path / "u.nrrd")],
                           check=True, capture_output=True, text=True).stdout.splitlines()
    uncertainty = read_nrrd(tmp_path / "u.nrrd", np.float32)
    assert uncertainty.shape == p.shape and np.allclose(uncertainty, entropy_bits(p), atol=1e-6)
    assert 0 < (uncertainty >= 0.5).sum() < uncertainty.size / 10  # an outline's worth of undecided pixels
    assert lines[-1] == "%s: mean entropy %.3f bit, %.1f%% of the outline uncertain, %d components (%.1f%% stray)" % (
        tmp_path / "again.nrrd", expected["mean_entropy_bits"], 100 * expected["uncertain_outline_share"],
        expected["components"], 100 * expected["stray_share"])


def test_each_flag_is_raised_by_an_input_that_should_raise_it(model, tmp_path):
    reference = model.metadata["quality"]
    limits = reference["limits"]
    image = np.asarray(focusnet.read_image(str(LUNG_SLICE))[0], np.float32)

    # The lung slice as raw stored values (no rescale intercept): intensities far from the training images'.
    write_nrrd(tmp_path / "raw.nrrd", image + 1024)
    result, p = segment(model, tmp_path / "raw.nrrd", tmp_path)
    distance = intensity_distance(image + 1024, reference)
    assert distance > limits["intensity_distance"]
    assert result["quality"]["intensity_distance"] == pytest.approx(distance, rel=1e-6)
    assert "out-of-distribution" in result["flags"]
    assert "%.2f spreads" % distance in result["flags"]["out-of-distribution"]

    if not CT_SERIES.is_dir():
        pytest.skip("no shared data")
    # A validation slice turned a quarter turn, as the network never saw lungs: it marks them in many pieces.
    turned = np.rot90(np.asarray(focusnet.read_image(str(SHARED_DATA / "kaggle_lung_ct_2d/images/ID_0188_Z_0137.tif"))[0],
                                 np.float32)).copy()
    write_nrrd(tmp_path / "turned.nrrd", turned)
    result, p = segment(model, tmp_path / "turned.nrrd", tmp_path)
    assert signals(p, model.metadata["threshold"], turned, reference)["stray_share"] > limits["stray_share"]
    assert "fragmented" in result["flags"]

    # The MR series: no lung found, and not the modality the model was trained on.
    result, _ = segment(model, SHARED_DATA / "dicom_samples/mr_series_babymri", tmp_path)
    assert result["label_voxels"] == 0
    assert result["flags"]["no-target"] == "no Lung in any slice"
    assert result["flags"]["out-of-distribution"].startswith("modality MR, the model was trained on CT")

    # A CT slice of another scanner and body part: the network is unsure of it.
    result, p = segment(model, SHARED_DATA / "dicom_samples/single/dicompyler-ct.0.dcm", tmp_path)
    assert entropy_bits(p).mean() > limits["mean_entropy_bits"]
    assert "uncertain" in result["flags"]


def test_real_data_series_signals_and_flags_match_numpy_in_every_report(model, tmp_path):
    if not CT_SERIES.is_dir():
        pytest.skip("no shared data")
    # The abdominal CT: its few false "lung" pixels at skin folds cover far less of a slice than lung does.
    result, p = segment(model, CT_SERIES, tmp_path)
    threshold, reference = model.metadata["threshold"], model.metadata["quality"]
    hu, spacing = read_series_hu(CT_SERIES)
    expected = signals(p, threshold, hu, reference, spacing)
    assert_signals(result["quality"], expected, "segment_file")
    assert expected["largest_slice_label"] < reference["label_fraction"][0]
    assert list(result["flags"]) == ["implausible-volume"]

    # focusnet batch: the series' signals and flags in summary.json, summary.csv and the DICOM SEG, each slice's
    # signals in summary.json.
    out = tmp_path / "batch"
    out.mkdir()
    subprocess.run([EXECUTABLE, "batch", str(CT_SERIES), str(out), "--threads", "2", "--formats", "nrrd,seg"],
                   check=True, capture_output=True)
    (summary_file,) = out.glob("*/*/summary.json")
    summary = json.loads(summary_file.read_text())
    assert_signals(summary["quality"], expected, "summary.json")
    assert summary["flags"] == [{"name": name, "reason": reason} for name, reason in result["flags"].items()]
    per_slice = summary["slice_quality"]
    assert list(per_slice) == NAMES
    # The slices in the label map's order: pydicom's file order is not the slice order, so each slice's input is
    # matched to its probabilities by the intensity distance they give alone.
    distances = np.array([intensity_distance(z, reference) for z in hu])
    assert sorted(per_slice["intensity_distance"]) == pytest.approx(sorted(distances), rel=1e-6)
    order = [int(np.argmin(np.abs(distances - d))) for d in per_slice["intensity_distance"]]
    assert sorted(order) == list(range(len(hu)))  # each file's slice once
    limits, (low, high) = reference["limits"], reference["label_fraction"]
    aspect_low, aspect_high = reference["input_aspect"]
    assert len(summary["slice_flags"]) == len(p)
    for z in range(len(p)):
        s = signals(p[z], threshold, hu[order[z]], reference, spacing)
        assert_signals({name: per_slice[name][z] for name in NAMES}, s, "slice %d" % z)
        # Each slice's flags, as docs/quality-control.md defines them, from the signals recomputed here (no-target
        # is not raised for a slice).
        fraction = s["largest_slice_label"]
        flags = [name for name, raised in [
            ("out-of-distribution", s["intensity_distance"] > limits["intensity_distance"]
             or s["input_noise"] > limits["input_noise"] or not aspect_low <= s["input_aspect"] <= aspect_high),
            ("implausible-volume", fraction > 0 and not low <= fraction <= high),
            ("uncertain", s["mean_entropy_bits"] > limits["mean_entropy_bits"]
             or s["uncertain_outline_share"] > limits["uncertain_outline_share"]),
            ("fragmented", s["stray_share"] > limits["stray_share"])] if raised]
        assert summary["slice_flags"][z] == " ".join(flags), z
    # Every slice with false lung is implausible on its own too; one without label is flagged nothing.
    assert sum("implausible-volume" in f for f in summary["slice_flags"]) == expected["slices_with_label"] > 0
    seg = pydicom.dcmread(summary_file.parent / "seg.dcm")
    assert seg.ContentDescription == "FocusNet Lung; flagged: implausible-volume"

    def csv_row():
        (row,) = csv.DictReader((out / "summary.csv").open())
        assert row["status"] == "ok"
        return row

    # The CSV writes six significant digits, and the flags' names.
    assert numbers({name: csv_row()[name] for name in NAMES}) == pytest.approx(numbers(summary["quality"]), rel=1e-5,
                                                                            nan_ok=True)
    assert csv_row()["flags"] == "implausible-volume"
    (out / "summary.csv").unlink()
    subprocess.run([EXECUTABLE, "batch", str(CT_SERIES), str(out), "--merge"], check=True, capture_output=True)
    assert numbers({name: csv_row()[name] for name in NAMES}) == pytest.approx(numbers(summary["quality"]), rel=1e-5,
                                                                            nan_ok=True)
    assert csv_row()["flags"] == "implausible-volume"
    # A resumed run skips the series it has done, and its summary still lists what to check in it.
    subprocess.run([EXECUTABLE, "batch", str(CT_SERIES), str(out), "--threads", "2"], check=True, capture_output=True)
    (row,) = csv.DictReader((out / "summary.csv").open())
    assert row["status"] == "skipped" and row["flags"] == "implausible-volume"
    assert numbers({name: row[name] for name in NAMES}) == pytest.approx(numbers(summary["quality"]), rel=1e-5,
                                                                      nan_ok=True)


def scipy_clean_up(label, keep, fill):
    """The model's clean-up with scipy: keep the keep largest face-connected components of a (z, y, x) label, then
    fill each slice's holes (background not 4-connected to the slice's border)."""
    label = label.copy()
    if keep:
        components, count = ndimage.label(label)
        sizes = np.bincount(components.ravel())[1:]
        kept = np.argsort(-sizes, kind="stable")[:keep] + 1
        label = np.isin(components, kept)
    if fill:
        label = np.array([ndimage.binary_fill_holes(z) for z in label])
    return label


def test_clean_up_of_the_model_file_matches_scipy_and_the_signals_describe_the_network(model, tmp_path):
    if not CT_SERIES.is_dir():
        pytest.skip("no shared data")
    # The recipe is written into a copy of the model by focusnet calibrate; the weights and the reference stay.
    recipes = {"keep2fill": ["--keep-components", "2", "--fill-holes"], "keep1": ["--keep-components", "1"]}
    for name, flags in recipes.items():
        subprocess.run([EXECUTABLE, "calibrate", str(LUNG_MODEL), str(tmp_path / (name + ".fnm")), "--modality", "CT",
                        "--training", str(SOURCE_DIR / "docs/training/lung-training-split.txt"),
                        "--validation", str(SOURCE_DIR / "docs/training/lung-validation-split.txt"), "--threads", "2"]
                       + flags, check=True, capture_output=True)
    # Calibrated again, a model keeps its recipe unless told otherwise.
    for source, flags, expected in [("keep2fill", [], {"keep_components": 2, "fill_holes": True}),
                                    ("keep2fill", ["--no-clean-up"], None)]:
        subprocess.run([EXECUTABLE, "calibrate", str(tmp_path / (source + ".fnm")), str(tmp_path / "again.fnm"),
                        "--training", str(SOURCE_DIR / "docs/training/lung-training-split.txt"),
                        "--validation", str(SOURCE_DIR / "docs/training/lung-validation-split.txt"), "--threads", "2",
                        "--overwrite"] + flags, check=True, capture_output=True)
        assert focusnet.Model(str(tmp_path / "again.fnm")).metadata.get("clean_up") == expected
    cleaned = focusnet.Model(str(tmp_path / "keep2fill.fnm"), threads=2)
    assert cleaned.metadata["clean_up"] == {"keep_components": 2, "fill_holes": True}
    assert cleaned.metadata["quality"]["limits"] == pytest.approx(model.metadata["quality"]["limits"], rel=1e-9)
    assert "clean_up" not in model.metadata

    # The abdominal series in 3D, and the lung slice turned a quarter turn (many pieces) in 2D.
    turned = np.rot90(np.asarray(focusnet.read_image(str(SHARED_DATA / "kaggle_lung_ct_2d/images/ID_0188_Z_0137.tif"))[0],
                                 np.float32)).copy()
    write_nrrd(tmp_path / "turned.nrrd", turned)
    for source in [CT_SERIES, tmp_path / "turned.nrrd"]:
        raw_result, _ = segment(model, source, tmp_path)
        raw = read_nrrd(tmp_path / "label.nrrd") != 0
        raw = raw.reshape((-1,) + raw.shape[-2:])
        result, _ = segment(cleaned, source, tmp_path)
        label = read_nrrd(tmp_path / "label.nrrd")
        expected = scipy_clean_up(raw, 2, True)
        assert (expected != raw).any(), source  # the clean-up changes something here
        assert np.array_equal(label.reshape(expected.shape) != 0, expected), source
        assert set(np.unique(label)) <= {0, 1}
        assert result["label_voxels"] == expected.sum()
        # The signals and flags are those of the network's label, before the clean-up.
        assert result["quality"] == pytest.approx(raw_result["quality"], rel=0, abs=0, nan_ok=True), source
        assert result["flags"] == raw_result["flags"], source

    # focusnet evaluate cleans the same way: its Dice is that of the scipy-cleaned label against the mask.
    pair = "kaggle_lung_ct_2d/images/ID_0078_Z_0058.tif,kaggle_lung_ct_2d/masks/ID_0078_Z_0058.tif"
    (tmp_path / "list.txt").write_text(",".join(str(SHARED_DATA / part) for part in pair.split(",")) + "\n")
    subprocess.run([EXECUTABLE, "evaluate", "--model", str(tmp_path / "keep1.fnm"), "--list", str(tmp_path / "list.txt"),
                    "--csv", str(tmp_path / "evaluate.csv"), "--threads", "2"], check=True, capture_output=True)
    row, pooled = csv.DictReader((tmp_path / "evaluate.csv").open())
    assert pooled["name"] == "(pooled)"
    segment(model, SHARED_DATA / pair.split(",")[0], tmp_path)
    one = scipy_clean_up(read_nrrd(tmp_path / "label.nrrd")[None] != 0, 1, False)[0]
    mask = np.asarray(focusnet.read_image(str(SHARED_DATA / pair.split(",")[1]))[0]) != 0
    dice = 2 * (one & mask).sum() / (one.sum() + mask.sum())
    assert dice < 0.9  # one lung of two
    assert float(row["DI"]) == pytest.approx(dice, abs=1e-5)


def test_flip_disagreement_matches_two_plain_runs_and_the_input_signals_flag_noise_and_a_turn(model, tmp_path):
    """--tta's flip_disagreement against the plain runs of a slice and of its mirror image (the lung model was trained
    with left-right flips only): of the pixels either labels, the share not both label. The input's noise and aspect
    against numpy, and the flags they raise."""
    if not CT_SERIES.is_dir():
        pytest.skip("no shared data")
    threshold, reference = model.metadata["threshold"], model.metadata["quality"]
    limits = reference["limits"]
    original = np.asarray(focusnet.read_image(str(SHARED_DATA / "kaggle_lung_ct_2d/images/ID_0188_Z_0137.tif"))[0],
                          np.float32)
    turned = np.rot90(original).copy()
    disagreement = {}
    for name, image in [("lung", original), ("turned", turned)]:
        write_nrrd(tmp_path / "image.nrrd", image)
        write_nrrd(tmp_path / "mirror.nrrd", image[:, ::-1].copy())
        _, plain = segment(model, tmp_path / "image.nrrd", tmp_path)
        _, mirrored = segment(model, tmp_path / "mirror.nrrd", tmp_path)
        either = (plain >= threshold) | (mirrored[:, ::-1] >= threshold)
        both = (plain >= threshold) & (mirrored[:, ::-1] >= threshold)
        result, _ = segment(model, tmp_path / "image.nrrd", tmp_path, tta=True)
        reported = result["quality"]["flip_disagreement"]
        disagreement[name] = (either.sum() - both.sum()) / either.sum()
        # The engine flips the network's input after resizing it, and these runs before: a pixel whose probability
        # lies at the threshold to float precision may fall either way.
        assert result["quality"]["flip_disagreement"] == pytest.approx(disagreement[name], abs=3 / either.sum()), name
        assert result["quality"]["input_noise"] == pytest.approx(input_noise(image), rel=1e-6), name
        assert result["quality"]["input_aspect"] == pytest.approx(input_aspect(image, reference), rel=1e-6), name
        assert np.isnan(segment(model, tmp_path / "image.nrrd", tmp_path)[0]["quality"]["flip_disagreement"])
        flags = result["flags"]
    # The good slice's flips agree within the limit; turned, they disagree on a quarter of the lung, and the image's
    # bright part is taller than wide, which no training slice is.
    assert disagreement["lung"] < limits["flip_disagreement"] < disagreement["turned"]
    assert "the flipped copies disagree on %.1f%% of the Lung (limit %.1f%%)" % (
        100 * reported, 100 * limits["flip_disagreement"]) in flags["uncertain"]
    assert input_aspect(turned, reference) > reference["input_aspect"][1] > input_aspect(original, reference)
    assert "times as tall as wide" in flags["out-of-distribution"]

    # Noise of 300 HU on the lung slice: far noisier than any training slice, whatever the network makes of it.
    noisy = original + np.random.default_rng(0).normal(0, 300, original.shape).astype(np.float32)
    write_nrrd(tmp_path / "noisy.nrrd", noisy)
    result, _ = segment(model, tmp_path / "noisy.nrrd", tmp_path)
    assert input_noise(noisy) > limits["input_noise"] > input_noise(original)
    assert result["quality"]["input_noise"] == pytest.approx(input_noise(noisy), rel=1e-6)
    assert "pixel noise %.3g (limit %.3g)" % (input_noise(noisy), limits["input_noise"]) in \
        result["flags"]["out-of-distribution"]
