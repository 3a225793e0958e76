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
import pytest
from scipy import ndimage

import focusnet
from focusnet_test_files import read_nrrd

EXECUTABLE = os.environ["FOCUSNET_EXECUTABLE"]
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED_DATA = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
LUNG_SLICE = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"
LUNG_MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
CT_SERIES = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
NAMES = ["mean_entropy_bits", "uncertain_outline_share", "components", "stray_share", "slices_with_label"]


def entropy_bits(p):
    p = p.astype(np.float64)
    inside = (p > 0) & (p < 1)
    q = np.where(inside, p, 0.5)
    return np.where(inside, -(q * np.log2(q) + (1 - q) * np.log2(1 - q)), 0.0)


def signals(probabilities, threshold):
    """The signals of a (z, y, x) probability volume (one slice for a 2D image), computed independently of FocusNet."""
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
    }


def assert_signals(reported, expected, what):
    assert list(reported) == NAMES, what
    for name in NAMES:
        # The uncertain share may differ by a pixel whose entropy is 0.5 bit to float precision.
        tolerance = 2e-4 if name == "uncertain_outline_share" else 1e-6
        assert reported[name] == pytest.approx(expected[name], rel=1e-5, abs=tolerance), (what, name)


@pytest.fixture(scope="module")
def model():
    return focusnet.Model(str(LUNG_MODEL), threads=2)


def test_lung_slice_signals_match_numpy(model, tmp_path):
    result = model.segment_file(str(LUNG_SLICE), str(tmp_path / "label.nrrd"), probabilities=str(tmp_path / "p.nrrd"))
    p = read_nrrd(tmp_path / "p.nrrd", np.float32)
    label = read_nrrd(tmp_path / "label.nrrd")
    threshold = model.metadata["threshold"]
    assert np.array_equal(label != 0, p >= threshold)
    expected = signals(p, threshold)
    assert_signals(result["quality"], expected, "segment_file")
    # A good lung slice: two lungs, confident inside and out.
    assert expected["components"] >= 2 and expected["mean_entropy_bits"] < 0.05

    # focusnet segment prints the same signals in words.
    line = subprocess.run([EXECUTABLE, "segment", str(LUNG_SLICE), str(tmp_path / "again.nrrd"), "--threads", "2"],
                          check=True, capture_output=True, text=True).stdout.splitlines()[-1]
    assert line == "%s: mean entropy %.3f bit, %.1f%% of the outline uncertain, %d components (%.1f%% stray)" % (
        tmp_path / "again.nrrd", expected["mean_entropy_bits"], 100 * expected["uncertain_outline_share"],
        expected["components"], 100 * expected["stray_share"])


def test_real_data_series_signals_match_numpy_in_every_report(model, tmp_path):
    if not CT_SERIES.is_dir():
        pytest.skip("no shared data")
    result = model.segment_file(str(CT_SERIES), str(tmp_path / "label.nrrd"), probabilities=str(tmp_path / "p.nrrd"))
    p = read_nrrd(tmp_path / "p.nrrd", np.float32)
    threshold = model.metadata["threshold"]
    expected = signals(p, threshold)
    assert_signals(result["quality"], expected, "segment_file")
    assert expected["slices_with_label"] > 0 and expected["components"] > 0

    # focusnet batch: the series' signals in summary.json and summary.csv, each slice's in summary.json.
    out = tmp_path / "batch"
    out.mkdir()
    subprocess.run([EXECUTABLE, "batch", str(CT_SERIES), str(out), "--threads", "2", "--formats", "nrrd"],
                   check=True, capture_output=True)
    (summary_file,) = out.glob("*/*/summary.json")
    summary = json.loads(summary_file.read_text())
    assert_signals(summary["quality"], expected, "summary.json")
    per_slice = summary["slice_quality"]
    assert list(per_slice) == NAMES
    for z in range(len(p)):
        assert_signals({name: per_slice[name][z] for name in NAMES}, signals(p[z], threshold), "slice %d" % z)

    def csv_quality():
        (row,) = csv.DictReader((out / "summary.csv").open())
        assert row["status"] == "ok"
        return {name: float(row[name]) for name in NAMES}

    # The CSV writes six significant digits.
    assert csv_quality() == pytest.approx(summary["quality"], rel=1e-5)
    (out / "summary.csv").unlink()
    subprocess.run([EXECUTABLE, "batch", str(CT_SERIES), str(out), "--merge"], check=True, capture_output=True)
    assert csv_quality() == pytest.approx(summary["quality"], rel=1e-5)
