"""Claims the README makes about the `focusnet` command, each checked the way a user would see it.

`--retry-failed`, `--keep-empty-frames` (frames counted with pydicom), `--axis` (against slicing the volume here),
`--series-uid`, `--overwrite` for every kind of output, and the model lookup (`--model`, then `$FOCUSNET_MODEL`,
then the installed default). Run by ctest with Debian's /usr/bin/python3; the DICOM claims need pydicom and the
shared CT series.
"""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from focusnet_test_files import copy_dicom_series, read_nrrd, write_nrrd

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
CT_SERIES = SHARED / "dicom_samples/ct_series_uids_restored"
MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
LUNG = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"


def focusnet(*arguments, env=None):
    return subprocess.run([FOCUSNET] + [str(a) for a in arguments], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))


def needs_dicom():
    pytest.importorskip("pydicom")
    if not CT_SERIES.is_dir():
        pytest.skip("needs the shared CT series")


def copy_series(target, count=20, series_uid=None, edit=None):
    return copy_dicom_series(CT_SERIES, target, count, series_uid, edit=edit)


def test_real_data_retry_failed_segments_again_only_the_series_that_failed(tmp_path):
    needs_dicom()
    tree = tmp_path / "tree"
    copy_series(tree / "good", 3, "2.25.101")
    bad = copy_series(tree / "bad", 3, "2.25.102")
    damaged = sorted(bad.iterdir())[1]
    whole = damaged.read_bytes()
    import pydicom
    dataset = pydicom.dcmread(damaged)
    dataset.PixelData = dataset.PixelData[:2000] + bytes(len(dataset.PixelData) - 2000)  # a JPEG 2000 stream broken
    dataset.save_as(damaged)
    out = tmp_path / "out"

    def statuses(*extra):
        result = focusnet("batch", tree, out, "--model", MODEL, "--threads", "2", "--formats", "nrrd", *extra)
        assert result.returncode == 0, result.stderr  # the README: 0 when the run completes, failures or not
        import csv
        return {row["series_uid"]: (row["status"], row["reason"]) for row in csv.DictReader((out / "summary.csv").open())}

    first = statuses()
    assert first["2.25.101"][0] == "ok" and first["2.25.102"][0] == "failed", first
    assert damaged.name in first["2.25.102"][1]
    second = statuses()  # without the flag: nothing is redone
    assert second["2.25.101"][0] == "skipped" and second["2.25.102"][0] == "skipped", second
    assert "earlier run (failed)" in second["2.25.102"][1]
    damaged.write_bytes(whole)
    third = statuses("--retry-failed")  # the failed series again, the good one still not
    assert third["2.25.101"][0] == "skipped" and third["2.25.102"][0] == "ok", third


def test_real_data_keep_empty_frames_keeps_the_frames_without_label(tmp_path):
    """A 4-slice series of a real CT slice whose middle two slices are made uniform soft tissue (40 HU): no lung."""
    needs_dicom()
    import pydicom
    series = tmp_path / "series"
    series.mkdir()
    for k in range(4):
        dataset = pydicom.dcmread(SHARED / "dicom_samples/single/dicompyler-ct.0.dcm")
        dataset.SeriesInstanceUID = "2.25.301"
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = "2.25.301.%d" % k
        dataset.ImagePositionPatient = [float(v) + (2.5 * k if i == 2 else 0.0)
                                        for i, v in enumerate(dataset.ImagePositionPatient)]
        if k in (1, 2):
            pixels = dataset.pixel_array
            stored = round((40 - float(dataset.RescaleIntercept)) / float(dataset.RescaleSlope))
            dataset.PixelData = np.full_like(pixels, stored).tobytes()
        dataset.save_as(series / ("%d.dcm" % k))
    labels = tmp_path / "labels.nrrd"
    assert focusnet("segment", series, labels, "--model", MODEL, "--threads", "2", "-q").returncode == 0
    volume = read_nrrd(labels)
    labelled = int((volume.reshape(volume.shape[0], -1) != 0).any(1).sum())
    assert labelled == 2, "the real slices have lung, the uniform ones none"
    for extra, frames in (([], labelled), (["--keep-empty-frames"], volume.shape[0])):
        seg = tmp_path / ("seg%d.dcm" % len(extra))
        result = focusnet("segment", series, seg, "--model", MODEL, "--threads", "2", "-q", *extra)
        assert result.returncode == 0, result.stderr
        assert int(pydicom.dcmread(seg).NumberOfFrames) == frames, extra


def test_real_data_series_uid_picks_one_of_two_series(tmp_path):
    needs_dicom()
    folder = tmp_path / "two"
    copy_series(folder / "a", 2, "2.25.201")
    copy_series(folder / "b", 3, "2.25.202")
    refused = focusnet("segment", folder, tmp_path / "x.nrrd", "--model", MODEL)
    assert refused.returncode != 0 and "--series-uid" in refused.stderr and "2.25.202" in refused.stderr
    for uid, slices in (("2.25.201", 2), ("2.25.202", 3)):
        out = tmp_path / (uid + ".nrrd")
        result = focusnet("segment", folder, out, "--model", MODEL, "--series-uid", uid, "--threads", "2", "-q")
        assert result.returncode == 0, result.stderr
        assert read_nrrd(out).shape == (slices, 512, 512)


def test_axis_slices_across_the_axis_asked_for(tmp_path):
    """A volume segmented across axis 1 gives the labels of its slices along that axis, each segmented alone."""
    from PIL import Image
    slice_ = np.array(Image.open(LUNG)).astype(np.int16)[::4, ::4]  # 128 x 128
    volume = np.stack([slice_, np.flipud(slice_), slice_ // 2])  # (z, y, x) = 3 x 128 x 128
    across_y = np.ascontiguousarray(volume.transpose(1, 0, 2))  # axis 1 (ITK's y) now holds 3 slices of z x x
    write_nrrd(tmp_path / "volume.nrrd", across_y)
    assert focusnet("segment", tmp_path / "volume.nrrd", tmp_path / "axis1.nrrd", "--axis", "1", "--model", MODEL,
                    "--threads", "2", "-q").returncode == 0
    got = read_nrrd(tmp_path / "axis1.nrrd")
    for k in range(3):
        write_nrrd(tmp_path / ("one%d.nrrd" % k), volume[k][None])
        assert focusnet("segment", tmp_path / ("one%d.nrrd" % k), tmp_path / ("one%d-l.nrrd" % k), "--model", MODEL,
                        "--threads", "2", "-q").returncode == 0
        np.testing.assert_array_equal(got[:, k, :], read_nrrd(tmp_path / ("one%d-l.nrrd" % k))[0], err_msg=str(k))
    assert got.any()


def test_overwrite_is_needed_for_every_kind_of_output(tmp_path):
    outputs = {"label map": ["OUT.nrrd"], "Slicer segmentation": ["OUT.seg.nrrd"], "VTK image": ["OUT.vti"],
               "probabilities": ["x.nrrd", "--probabilities", "OUT.nrrd"], "overlay": ["x.nrrd", "--overlay", "OUT.png"],
               "mesh": ["x.nrrd", "--mesh", "OUT.vtp"]}
    for kind, arguments in outputs.items():
        folder = tmp_path / kind.replace(" ", "-")
        folder.mkdir()
        named = [str(folder / a.replace("OUT", "out")) if a.endswith((".nrrd", ".png", ".vti", ".vtp")) else a
                 for a in arguments]
        existing = Path(next(a for a in named if "out" in Path(a).name))
        existing.write_text("precious")
        result = focusnet("segment", LUNG, *named, "--model", MODEL, "--threads", "2")
        assert result.returncode != 0 and "--overwrite" in result.stderr, (kind, result.stderr)
        assert existing.read_text() == "precious", kind
        assert sorted(p.name for p in folder.iterdir()) == [existing.name], kind  # nothing else written either
        result = focusnet("segment", LUNG, *named, "--model", MODEL, "--threads", "2", "--overwrite")
        assert result.returncode == 0, (kind, result.stderr)
        assert existing.read_bytes() != b"precious", kind


def test_the_model_is_the_flag_then_focusnet_model_then_the_installed_default(tmp_path):
    tiny = tmp_path / "tiny.fnm"
    assert focusnet("init", "focusnet", tiny, "--width", "0.125", "--size", "64", "--min-channels", "4").returncode == 0
    outputs = {}
    for name, extra, env in (("installed", [], {"FOCUSNET_MODEL": ""}), ("variable", [], {"FOCUSNET_MODEL": str(tiny)}),
                             ("flag", ["--model", MODEL], {"FOCUSNET_MODEL": str(tiny)})):
        out = tmp_path / (name + ".nrrd")
        result = focusnet("segment", LUNG, out, "--threads", "2", "-q", *extra, env=env)
        assert result.returncode == 0, (name, result.stderr)
        outputs[name] = read_nrrd(out)
    explicit = tmp_path / "explicit.nrrd"
    assert focusnet("segment", LUNG, explicit, "--model", MODEL, "--threads", "2", "-q").returncode == 0
    # The installed default is the bundled lung model; $FOCUSNET_MODEL replaces it; --model wins over both.
    np.testing.assert_array_equal(outputs["installed"], read_nrrd(explicit))
    np.testing.assert_array_equal(outputs["flag"], read_nrrd(explicit))
    assert (outputs["variable"] != outputs["installed"]).any()
    missing = focusnet("segment", LUNG, tmp_path / "m.nrrd", env={"FOCUSNET_MODEL": str(tmp_path / "none.fnm")})
    assert missing.returncode != 0 and "none.fnm" in missing.stderr


def test_real_data_batch_summary_counts_the_label_map_voxels_and_their_volume(tmp_path):
    # summary.csv's voxel_count against the label map counted here, and volume_ml against that count times the
    # voxel volume from pydicom's PixelSpacing and the distance between ImagePositionPatient along the normal.
    needs_dicom()
    import csv
    import pydicom
    tree = tmp_path / "tree"
    series = copy_series(tree / "ct", 20, "2.25.301")
    out = tmp_path / "out"
    result = focusnet("batch", tree, out, "--model", MODEL, "--threads", "2", "--formats", "nrrd")
    assert result.returncode == 0, result.stderr
    [row] = list(csv.DictReader((out / "summary.csv").open()))
    assert row["status"] == "ok", row
    [label_map] = list((out / row["output_folder"]).glob("*.nrrd"))  # output_folder: relative to the output root
    voxels = int(np.count_nonzero(read_nrrd(label_map)))
    assert voxels > 0
    assert int(row["voxel_count"]) == voxels
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(series.iterdir())]
    normal = np.cross(*np.array(datasets[0].ImageOrientationPatient, dtype=float).reshape(2, 3))
    positions = sorted(float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))) for d in datasets)
    gap = positions[1] - positions[0]
    assert np.allclose(np.diff(positions), gap)
    rows_mm, columns_mm = (float(s) for s in datasets[0].PixelSpacing)
    expected_ml = voxels * rows_mm * columns_mm * gap / 1000.0
    assert abs(float(row["volume_ml"]) - expected_ml) <= 0.0005 + 1e-9, (row["volume_ml"], expected_ml)
    assert int(row["slices"]) == 20 and int(row["files"]) == 20
