"""The DICOM SEG objects `focusnet segment --dicom-seg` writes, read back by dcmjs (the DICOM library the OHIF viewer
reads SEG with), not by the DCMTK code that wrote them. dcmjs is installed from the npm registry at a pinned version
into a scratch folder (kept between runs in the build tree). For the real CT series (JPEG 2000, axial) and the real MR
series (oblique): every frame dcmjs reads lies on a slice of the label map (its plane position), references the source
instance at that position (pydicom reads the series), and has that slice's voxels, pixel for pixel; the slices without
a frame are empty; the frames' orientation and pixel spacing are the label map's (pynrrd reads it); the CT's segment
has the lung model's label, colour (dcmjs's CIELab to RGB), type code and algorithm type. As in the dcmqi test, the
MR's SEG is made with an untrained model, which marks most voxels. Run by ctest with Debian's /usr/bin/python3.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
SHARED_DIR = Path(os.environ["FOCUSNET_SHARED_DIR"])
SCRATCH = Path(os.environ["FOCUSNET_DCMJS_SCRATCH"])
DCMJS_VERSION = "0.52.2"
READER = Path(__file__).parent / "read_seg_with_dcmjs.js"
sys.path[:0] = [str(SHARED_DIR / "third_party/pynrrd")]
import nrrd  # noqa: E402  (pynrrd, mhe/pynrrd)

SERIES = {"ct": "dicom_samples/ct_series_uids_restored", "mr": "dicom_samples/mr_series_babymri"}


@pytest.fixture(scope="module")
def dcmjs():
    """The folder dcmjs DCMJS_VERSION is installed in (node_modules), installed with npm where it is not yet."""
    folder = SCRATCH / ("dcmjs-" + DCMJS_VERSION)
    installed = folder / "node_modules/dcmjs/package.json"
    if not installed.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(["npm", "install", "--prefix", folder, "--no-save", "--no-audit", "--no-fund",
                                 "--loglevel=error", "dcmjs@" + DCMJS_VERSION], capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(installed.read_text())["version"] == DCMJS_VERSION
    return folder / "node_modules"


@pytest.mark.parametrize("name", sorted(SERIES))
def test_real_data_dcmjs_reads_our_seg_as_the_label_map(name, dcmjs, tmp_path):
    import pydicom
    series = SHARED_DIR / "data" / SERIES[name]
    model = []
    if name == "mr":
        subprocess.run([FOCUSNET, "init", "focusnet", tmp_path / "untrained.fnm", "--width", "0.125", "--size", "64",
                        "--min-channels", "4"], check=True, stdout=subprocess.DEVNULL)
        model = ["--model", tmp_path / "untrained.fnm"]
    subprocess.run([FOCUSNET, "segment", series, tmp_path / "labels.nrrd", "--dicom-seg", tmp_path / "seg.dcm",
                    "--threads", "2", "-q"] + model, check=True)
    result = subprocess.run(["node", READER, tmp_path / "seg.dcm", tmp_path / "frames.bin"], capture_output=True,
                            text=True, env=dict(os.environ, NODE_PATH=str(dcmjs)), timeout=300)
    assert result.returncode == 0, result.stderr
    seg = json.loads(result.stdout)

    labels, header = nrrd.read(str(tmp_path / "labels.nrrd"))  # (x, y, z), LPS
    axes, origin = np.array(header["space directions"], dtype=float), np.array(header["space origin"], dtype=float)
    spacing = np.linalg.norm(axes, axis=1)
    directions = axes / spacing[:, None]
    assert seg["sopClassUid"] == "1.2.840.10008.5.1.4.1.1.66.4" and seg["segmentationType"] == "BINARY"
    assert (seg["columns"], seg["rows"]) == labels.shape[:2]
    np.testing.assert_allclose(seg["orientation"], np.concatenate([directions[0], directions[1]]), atol=1e-5)
    np.testing.assert_allclose(seg["pixelSpacing"], [spacing[1], spacing[0]], rtol=1e-6)  # rows, then columns

    frames = np.fromfile(tmp_path / "frames.bin", np.uint8).reshape(seg["frameCount"], seg["rows"], seg["columns"])
    sources = {}
    for path in series.iterdir():
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        sources[dataset.SOPInstanceUID] = np.array(dataset.ImagePositionPatient, dtype=float)
    framed = set()
    for frame, pixels in zip(seg["frames"], frames):
        position = np.array(frame["position"])
        index = float(np.dot(position - origin, directions[2]) / spacing[2])
        slice_ = int(round(index))
        assert abs(index - slice_) < 1e-3 and 0 <= slice_ < labels.shape[2], frame
        np.testing.assert_allclose(position, origin + slice_ * axes[2], atol=1e-3)
        np.testing.assert_allclose(sources[frame["source"]], position, atol=1e-3)  # the instance at that position
        assert frame["segment"] == 1
        np.testing.assert_array_equal(pixels, (labels[:, :, slice_] != 0).T.astype(np.uint8), err_msg=str(slice_))
        framed.add(slice_)
    assert len(framed) == len(seg["frames"]) > 0
    for slice_ in set(range(labels.shape[2])) - framed:  # empty frames are left out
        assert not labels[:, :, slice_].any(), slice_

    [segment] = seg["segments"]
    assert segment["number"] == 1
    if model:
        return  # the untrained model's own label
    assert (segment["label"], segment["algorithmType"]) == ("Lung", "AUTOMATIC")
    assert np.abs(np.array(segment["rgb"]) - [128, 174, 128]).max() <= 1
    code = segment["type"]
    assert (code["CodingSchemeDesignator"], code["CodeValue"], code["CodeMeaning"]) == ("SCT", "39607008", "Lung")
