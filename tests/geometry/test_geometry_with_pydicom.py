"""The geometry of `focusnet segment`'s label maps against pydicom's reading of the DICOM series, not FocusNet's own.

The oracle is computed here from the headers as pydicom reads them: the slices sorted along the normal of
ImageOrientationPatient, the origin the first slice's ImagePositionPatient, the in-plane steps the orientation
cosines times PixelSpacing (column spacing along the rows), the slice step the distance between positions. The label
map's NRRD header is read by this file's own parser. Run by ctest with Debian's /usr/bin/python3.
"""
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
SHARED = Path(os.environ["FOCUSNET_SHARED_DATA_DIR"]) / "dicom_samples"
MODEL = Path(os.environ["FOCUSNET_SOURCE_DIR"]) / "test_data/models/focusnet-lung.fnm"


def expected_geometry(folder):
    """(sizes x y z, origin, 3x3 matrix whose column k is axis k's step in LPS mm) from pydicom."""
    slices = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(Path(folder).iterdir()) if p.is_file()]
    row, column = np.array(slices[0].ImageOrientationPatient[:3], float), np.array(
        slices[0].ImageOrientationPatient[3:], float)
    normal = np.cross(row, column)
    slices.sort(key=lambda s: float(np.dot(np.array(s.ImagePositionPatient, float), normal)))
    positions = np.array([s.ImagePositionPatient for s in slices], float)
    spacing = [float(v) for v in slices[0].PixelSpacing]  # (between rows, between columns)
    step = (positions[-1] - positions[0]) / (len(slices) - 1)
    steps = np.column_stack([row * spacing[1], column * spacing[0], step])
    return [int(slices[0].Columns), int(slices[0].Rows), len(slices)], positions[0], steps


def nrrd_geometry(path):
    data = Path(path).read_bytes()
    header = data[: data.index(b"\n\n")].decode()
    fields = dict(line.split(": ", 1) for line in header.splitlines()[1:] if ": " in line)
    vectors = [[float(v) for v in group.split(",")] for group in re.findall(r"\(([^)]*)\)", fields["space directions"])]
    origin = [float(v) for v in re.findall(r"\(([^)]*)\)", fields["space origin"])[0].split(",")]
    return fields["space"], [int(s) for s in fields["sizes"].split()], np.array(origin), np.array(vectors).T


@pytest.mark.parametrize("series", ["ct_series_uids_restored", "mr_series_babymri"])
def test_real_data_label_map_geometry_is_the_series_geometry_pydicom_reads(series, tmp_path):
    output = tmp_path / "labels.nrrd"
    result = subprocess.run([FOCUSNET, "segment", str(SHARED / series), str(output), "--model", str(MODEL),
                             "--threads", "2", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    sizes, origin, steps = expected_geometry(SHARED / series)
    space, got_sizes, got_origin, got_steps = nrrd_geometry(output)
    assert space == "left-posterior-superior"
    assert got_sizes == sizes
    np.testing.assert_allclose(got_origin, origin, atol=1e-4)
    np.testing.assert_allclose(got_steps, steps, atol=1e-5)
    if series.startswith("mr"):
        # The MR is oblique: the test would pass for an axis-aligned reading of an axial CT alone.
        assert np.abs(steps[:, :2] / np.linalg.norm(steps[:, :2], axis=0) - np.eye(3)[:, :2]).max() > 0.05
