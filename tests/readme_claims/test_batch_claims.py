"""The README's claims about `focusnet batch` and the command's terminal output, each against an oracle that is not
FocusNet's code: nibabel (NIfTI) and VTK's MetaImage reader for the label map formats, pydicom for the geometry and
the SEG frames, zlib for the weights' CRC-32, the project's CMake version, the Slurm script's shard arithmetic run as
Slurm would run it, and a pseudo-terminal for the progress bar.

Run by ctest with Debian's /usr/bin/python3 (python3-nibabel, python3-vtk9, python3-pydicom); test_real_data_* read
the shared CT series.
"""
import csv
import json
import os
import pty
import re
import subprocess
import zlib
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


def batch(tree, out, *extra):
    result = focusnet("batch", tree, out, "--model", MODEL, "--threads", "2", *extra)
    assert result.returncode == 0, result.stderr
    return result


def summary_rows(path):
    with Path(path).open() as file:
        return {row["series_uid"]: row for row in csv.DictReader(file)}


def needs_ct_series():
    pytest.importorskip("pydicom")
    if not CT_SERIES.is_dir():
        pytest.skip("needs the shared CT series")


def tree_of(root, series, slices=4):
    """series copies of the first slices of the real CT series, UIDs 2.25.40<k> (study 2.25.41<k>)."""
    needs_ct_series()
    for k in range(series):
        copy_dicom_series(CT_SERIES, root / ("series-%d" % k), slices, "2.25.40%d" % k, "2.25.41%d" % k)
    return root


def patient_geometry(folder):
    """(origin, direction columns, spacing) in LPS of a DICOM series folder, from pydicom's reading of it."""
    import pydicom
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in Path(folder).iterdir()]
    rows_cols = np.array(datasets[0].ImageOrientationPatient, dtype=float).reshape(2, 3)
    normal = np.cross(rows_cols[0], rows_cols[1])
    datasets.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))))
    positions = np.array([d.ImagePositionPatient for d in datasets], dtype=float)
    gap = float(np.linalg.norm(positions[1] - positions[0]))
    row_mm, column_mm = (float(s) for s in datasets[0].PixelSpacing)
    return positions[0], np.column_stack([rows_cols[0], rows_cols[1], normal]), np.array([column_mm, row_mm, gap])


def test_real_data_batch_label_map_formats_read_back_by_nibabel_and_vtk(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    vtk = pytest.importorskip("vtk")
    from vtk.util.numpy_support import vtk_to_numpy
    tree = tree_of(tmp_path / "tree", 1)
    folder = "2.25.410/2.25.400"
    batch(tree, tmp_path / "nrrd", "--formats", "nrrd")
    reference = read_nrrd(tmp_path / "nrrd" / folder / "label.nrrd")
    assert reference.shape == (4, 512, 512) and reference.any()
    origin, direction, spacing = patient_geometry(tree / "series-0")
    lps_to_ras = np.diag([-1.0, -1.0, 1.0])
    for extension in ("nii", "nii.gz"):
        batch(tree, tmp_path / extension, "--formats", extension)
        image = nibabel.load(str(tmp_path / extension / folder / ("label." + extension)))
        np.testing.assert_array_equal(np.asarray(image.dataobj).transpose(2, 1, 0), reference, err_msg=extension)
        np.testing.assert_allclose(image.affine[:3, 3], lps_to_ras @ origin, atol=1e-3, err_msg=extension)
        np.testing.assert_allclose(image.affine[:3, :3], lps_to_ras @ direction * spacing, atol=1e-4, err_msg=extension)
    batch(tree, tmp_path / "mha", "--formats", "mha")
    reader = vtk.vtkMetaImageReader()
    reader.SetFileName(str(tmp_path / "mha" / folder / "label.mha"))
    reader.Update()
    image = reader.GetOutput()
    voxels = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(image.GetDimensions()[::-1])
    np.testing.assert_array_equal(voxels, reference)
    np.testing.assert_allclose(image.GetSpacing(), spacing, rtol=1e-5)
    np.testing.assert_allclose(image.GetOrigin(), origin, atol=1e-3)
    # One label map format a run: two are refused before anything is written.
    refused = focusnet("batch", tree, tmp_path / "two", "--model", MODEL, "--formats", "nii,mha")
    assert refused.returncode != 0 and "choose one label map format, not nii and mha" in refused.stderr
    assert not (tmp_path / "two").exists()


def test_real_data_summary_json_names_the_weights_crc32_and_the_version(tmp_path):
    tree = tree_of(tmp_path / "tree", 1, slices=2)
    batch(tree, tmp_path / "out", "--formats", "nrrd")
    record = json.loads((tmp_path / "out/2.25.410/2.25.400/summary.json").read_text())
    # The model file: magic, version, header length, JSON header, then the weights (docs: "Model file").
    data = MODEL.read_bytes()
    length = int.from_bytes(data[12:20], "little")
    weights = data[20 + length:]
    assert record["model"]["weights_crc32"] == "%08x" % (zlib.crc32(weights) & 0xFFFFFFFF)
    assert record["model"]["file"] == str(MODEL)
    version = re.search(r"project\(FocusNet VERSION (\S+)", (SOURCE_DIR / "CMakeLists.txt").read_text()).group(1)
    assert record["focusnet_version"] == version
    assert focusnet("--version").stdout.strip() == version


def test_real_data_series_without_uids_go_to_no_study_uid_and_are_found_again(tmp_path):
    def anonymised(series):
        def edit(index, dataset):
            dataset.StudyInstanceUID = dataset.SeriesInstanceUID = ""
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = "2.25.9%d%d" % (series, index)
        return edit

    needs_ct_series()
    tree = tmp_path / "tree"
    for series, name in enumerate(("a", "b")):
        copy_dicom_series(CT_SERIES, tree / name, 2, edit=anonymised(series))
    batch(tree, tmp_path / "out", "--formats", "nrrd", "seg")
    folders = sorted(p.parent.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("summary.json"))
    assert len(folders) == 2, folders  # one folder each, though neither has a UID
    for folder in folders:
        assert re.fullmatch(r"no-study-uid/no-series-uid-[0-9a-f]{8}", str(folder)), folder
        record = json.loads((tmp_path / "out" / folder / "summary.json").read_text())
        # The label map is written; the SEG is refused, as it could not reference its source.
        assert record["status"] == "partial" and (tmp_path / "out" / folder / "label.nrrd").is_file(), record
        assert not (tmp_path / "out" / folder / "seg.dcm").exists()
    # The same folders again on a second run: both skipped as done.
    second = batch(tree, tmp_path / "out", "--formats", "nrrd", "seg")
    assert "2 skipped" in second.stdout, second.stdout
    assert sorted(p.parent.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("summary.json")) == folders


def test_real_data_two_jobs_give_the_outputs_of_one(tmp_path):
    import pydicom
    tree = tree_of(tmp_path / "tree", 3, slices=3)
    one = batch(tree, tmp_path / "one", "--formats", "nrrd", "seg", "--jobs", "1")
    two = batch(tree, tmp_path / "two", "--formats", "nrrd", "seg", "--jobs", "2")
    for k in range(3):
        folder = "2.25.41%d/2.25.40%d" % (k, k)
        assert (tmp_path / "one" / folder / "label.nrrd").read_bytes() == \
            (tmp_path / "two" / folder / "label.nrrd").read_bytes(), folder
        frames = [pydicom.dcmread(tmp_path / run / folder / "seg.dcm").pixel_array for run in ("one", "two")]
        np.testing.assert_array_equal(frames[0], frames[1], err_msg=folder)
    rows = [summary_rows(tmp_path / run / "summary.csv") for run in ("one", "two")]
    assert sorted(rows[0]) == sorted(rows[1]) == ["2.25.400", "2.25.401", "2.25.402"]
    for uid in rows[0]:
        for field in ("status", "voxel_count", "volume_ml", "slices"):
            assert rows[0][uid][field] == rows[1][uid][field], (uid, field)
    # stderr is not a terminal here: one line per finished series, whatever order the jobs end in.
    for result in (one, two):
        lines = sorted(line for line in result.stderr.splitlines() if line.startswith("series "))
        assert [line.split(":")[0] for line in lines] == ["series 1/3", "series 2/3", "series 3/3"], result.stderr
        assert sorted(line.split(": ")[1] for line in lines) == ["2.25.400 ok", "2.25.401 ok", "2.25.402 ok"]


def test_real_data_batch_tta_gives_the_label_maps_of_segment_tta(tmp_path):
    tree = tree_of(tmp_path / "tree", 1)
    batch(tree, tmp_path / "out", "--formats", "nrrd", "--tta")
    batched = read_nrrd(tmp_path / "out/2.25.410/2.25.400/label.nrrd")
    for tta in (["--tta"], []):
        result = focusnet("segment", tree / "series-0", tmp_path / "segment.nrrd", "--model", MODEL, "--threads", "2",
                          "-q", "--overwrite", *tta)
        assert result.returncode == 0, result.stderr
        if tta:
            np.testing.assert_array_equal(batched, read_nrrd(tmp_path / "segment.nrrd"))
        else:  # and the mirror images do change them: --tta was not lost on the way
            assert (batched != read_nrrd(tmp_path / "segment.nrrd")).any()


def test_real_data_the_slurm_script_takes_the_shard_count_from_FOCUSNET_SHARDS(tmp_path):
    """The array task script run as Slurm runs a task of a resubmitted array (--array=1: a count of 1)."""
    tree = tree_of(tmp_path / "tree", 3, slices=2)
    script = SOURCE_DIR / "examples/slurm/focusnet-batch.sbatch"
    task = dict(os.environ, FOCUSNET=FOCUSNET, SLURM_ARRAY_TASK_ID="1", SLURM_ARRAY_TASK_COUNT="1",
                SLURM_CPUS_PER_TASK="2")
    arguments = ["bash", str(script), str(tree), str(tmp_path / "out"), "--model", str(MODEL), "--formats", "nrrd"]
    refused = subprocess.run(arguments, capture_output=True, text=True, env=task, timeout=300)
    assert refused.returncode == 2 and "task 1 is not one of 1 shards; set FOCUSNET_SHARDS" in refused.stderr
    taken = {}
    for shard in range(3):
        env = dict(task, SLURM_ARRAY_TASK_ID=str(shard), FOCUSNET_SHARDS="3")
        result = subprocess.run(arguments, capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        taken[shard] = set(summary_rows(tmp_path / "out" / ("summary-shard-%d-of-3.csv" % shard)))
    # The same split as the command's own --shard I/3, and every series in exactly one shard.
    for shard in range(3):
        direct = batch(tree, tmp_path / ("direct-%d" % shard), "--formats", "nrrd", "--shard", "%d/3" % shard)
        assert set(summary_rows(tmp_path / ("direct-%d" % shard) / ("summary-shard-%d-of-3.csv" % shard))) == \
            taken[shard], direct.stdout
    assert sorted(uid for shard in taken.values() for uid in shard) == ["2.25.400", "2.25.401", "2.25.402"]


def read_terminal(command):
    """What command draws on stderr when stderr is a pseudo-terminal (stdout: a pipe), and its exit code."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen([str(a) for a in command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=secondary)
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the command closed its end
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    process.stdout.read()
    return drawn.decode(), process.wait(timeout=300)


def test_the_progress_bar_is_drawn_on_a_terminal_and_only_there(tmp_path):
    from PIL import Image
    slice_ = np.array(Image.open(LUNG)).astype(np.int16)[::2, ::2]
    write_nrrd(tmp_path / "volume.nrrd", np.stack([slice_] * 6))
    command = [FOCUSNET, "segment", tmp_path / "volume.nrrd", tmp_path / "labels.nrrd", "--model", MODEL,
               "--threads", "2", "--batch-size", "2", "--overwrite"]
    drawn, code = read_terminal(command)
    assert code == 0, drawn
    frames = [frame for frame in drawn.split("\r") if frame.strip()]
    bars = [re.fullmatch(r"segmenting \[(#*)( *)\] +(\d+)%  \d+s elapsed, ETA \d+s ", frame) for frame in frames]
    assert all(bars), frames
    percents = [int(bar.group(3)) for bar in bars]
    assert percents == [0, 33, 67, 100], percents  # once before the first batch of 2 slices, then after each of 3
    for bar, percent in zip(bars, percents):
        filled, empty = len(bar.group(1)), len(bar.group(2))
        assert filled + empty == 30 and filled == round(30 * percent / 100), bar.group(0)
    assert drawn.endswith("\r\n")  # the bar is ended by a new line
    piped = subprocess.run([str(a) for a in command], capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and "\r" not in piped.stderr and "segmenting [" not in piped.stderr, piped.stderr


def test_bf16_through_the_command_runs_where_the_cpu_has_it_and_is_refused_elsewhere(tmp_path):
    flags = Path("/proc/cpuinfo").read_text().split()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    half = focusnet("segment", LUNG, tmp_path / "bf16.nrrd", "--model", MODEL, "--device", "cpu", "--threads", "2",
                    "--precision", "bf16", "-q")
    if not native:
        assert half.returncode != 0 and "AVX512-BF16 or AMX" in half.stderr, half.stderr
        assert len(half.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bf16.nrrd").exists()
        return
    assert half.returncode == 0, half.stderr
    assert focusnet("segment", LUNG, tmp_path / "fp32.nrrd", "--model", MODEL, "--device", "cpu", "--threads", "2",
                    "-q").returncode == 0
    a, b = read_nrrd(tmp_path / "fp32.nrrd") != 0, read_nrrd(tmp_path / "bf16.nrrd") != 0
    assert a.any() and 2 * (a & b).sum() / (a.sum() + b.sum()) >= 0.999  # the README: Dice 0.999
