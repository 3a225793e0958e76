"""`focusnet snapshot` and `focusnet overlay` pictures read back with Pillow (Debian's python3-pil), not with VTK or ITK.

Each picture has the requested size, is not blank and carries the model's label colour; the snapshot renders
headless (the command starts its own Xvfb when $DISPLAY is unset or unreachable) and fails in one line, without a
file, where it cannot. test_real_data_* read ../shared/data.
"""
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from focusnet_test_files import nrrd_spacing, read_nrrd

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED_DATA = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
LUNG_MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
LUNG_SLICE = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"
LUNG_MASK = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142_mask.tif"  # 0 / 255
LABEL_COLOUR = np.array([128, 174, 128])  # the lung model's label colour (Slicer's "lung")


def focusnet(*arguments, environment=None):
    return subprocess.run([FOCUSNET, *map(str, arguments)], capture_output=True, text=True, env=environment,
                          timeout=120)


def without_display(**changes):
    environment = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    environment.update(changes)
    return environment


def read_rgb(path):
    with Image.open(path) as picture:
        assert picture.mode == "RGB"
        return np.asarray(picture).astype(int)


def label_hued(pixels):
    """Pixels of the label's green hue: shading changes their brightness, not green over red and blue."""
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (green - red > 15) & (green - blue > 15)


def write_mha(path, values, element_type):
    lines = ["ObjectType = Image", "NDims = 3", "DimSize = " + " ".join(map(str, values.shape[::-1])),
             "ElementSpacing = 0.8 0.8 2.0", "Offset = -20 10 300", "ElementType = " + element_type,
             "ElementDataFile = LOCAL"]
    Path(path).write_bytes(("\n".join(lines) + "\n").encode() + values.tobytes())


@pytest.fixture(scope="module")
def ball(tmp_path_factory):
    """An ellipsoid label map and a CT-like image of it: soft tissue out to 1.8 times its size, air beyond."""
    folder = tmp_path_factory.mktemp("snapshot")
    z, y, x = np.mgrid[0:24, 0:64, 0:64]
    radius = np.sqrt(((x - 32) / 20.0) ** 2 + ((y - 30) / 14.0) ** 2 + ((z - 12) / 8.0) ** 2)
    write_mha(folder / "ball.mha", (radius < 1.0).astype(np.uint8), "MET_UCHAR")
    write_mha(folder / "ct.mha", np.where(radius < 1.8, 40.0, -1000.0).astype(np.float32), "MET_FLOAT")
    return folder


def test_snapshot_has_the_size_asked_for_and_the_label_colour_in_frame(ball, tmp_path):
    out = tmp_path / "ball.png"
    result = focusnet("snapshot", ball / "ball.mha", out, "--model", LUNG_MODEL, "--size", "320x240",
                      environment=without_display())
    assert result.returncode == 0, result.stderr
    pixels = read_rgb(out)
    assert pixels.shape == (240, 320, 3)
    assert pixels.std() > 10  # not blank
    rows, columns = np.nonzero(label_hued(pixels))
    assert rows.size > 0.05 * 240 * 320
    # The camera frames the structure: it spans much of the picture and is centred in it.
    assert columns.max() - columns.min() > 0.5 * 320
    assert abs((columns.min() + columns.max()) / 2 - 160) < 32 and abs((rows.min() + rows.max()) / 2 - 120) < 24


def test_snapshot_shows_the_image_slice_for_context(ball, tmp_path):
    plain, context = tmp_path / "plain.png", tmp_path / "context.png"
    for out, extra in ((plain, []), (context, ["--image", ball / "ct.mha"])):
        result = focusnet("snapshot", ball / "ball.mha", out, "--model", LUNG_MODEL, "--size", "200x200", *extra,
                          environment=without_display())
        assert result.returncode == 0, result.stderr
    # The slice in a soft-tissue window shows the tissue around the ellipsoid mid-gray over the dark background.
    brighter = read_rgb(context).sum(axis=-1) - read_rgb(plain).sum(axis=-1) > 150
    assert np.count_nonzero(brighter) > 0.03 * 200 * 200


def test_a_2d_snapshot_outlines_the_label_over_the_image(tmp_path):
    out = tmp_path / "slice.png"
    result = focusnet("snapshot", LUNG_MASK, out, "--model", LUNG_MODEL, "--label", 255, "--image", LUNG_SLICE,
                      "--size", "400x400", environment=without_display())
    assert result.returncode == 0, result.stderr
    pixels = read_rgb(out)
    assert pixels.shape == (400, 400, 3)
    outline = label_hued(pixels)
    assert 500 < np.count_nonzero(outline) < 0.2 * 400 * 400  # a line around the lungs, not a filled area
    # Both lungs are outlined: the outline reaches into the left and the right half of the picture.
    columns = np.nonzero(outline)[1]
    assert columns.min() < 120 and columns.max() > 280


def test_an_unreachable_display_is_replaced_by_xvfb(ball, tmp_path):
    out = tmp_path / "ball.png"
    result = focusnet("snapshot", ball / "ball.mha", out, "--model", LUNG_MODEL, "--size", "64x64",
                      environment=without_display(DISPLAY=":987"))
    assert result.returncode == 0, result.stderr
    assert read_rgb(out).shape == (64, 64, 3)


def test_no_display_and_no_xvfb_fails_in_one_line_without_a_file(ball, tmp_path):
    out = tmp_path / "ball.png"
    result = focusnet("snapshot", ball / "ball.mha", out, "--model", LUNG_MODEL,
                      environment=without_display(PATH=str(tmp_path)))
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "xvfb" in result.stderr.lower() and "DISPLAY" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad, message", [("picture.jpg", "PNG"), ("picture.png --size 10x4000", "16 to 8192"),
                                          ("picture.png --size big", "WIDTHxHEIGHT")])
def test_bad_snapshot_requests_are_refused_before_rendering(ball, tmp_path, bad, message):
    name, *options = bad.split()
    result = focusnet("snapshot", ball / "ball.mha", tmp_path / name, "--model", LUNG_MODEL, *options,
                      environment=without_display(PATH=str(tmp_path)))  # no Xvfb: refused before it is needed
    assert result.returncode != 0 and message in result.stderr and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_overlay_has_the_image_size_and_the_exact_label_colour(tmp_path):
    out = tmp_path / "overlay.png"
    result = focusnet("overlay", LUNG_SLICE, LUNG_MASK, out, "--model", LUNG_MODEL)
    assert result.returncode == 0, result.stderr
    pixels = read_rgb(out)
    with Image.open(LUNG_SLICE) as image:
        assert pixels.shape[:2] == (image.height, image.width)
    exact = np.all(pixels == LABEL_COLOUR, axis=-1)
    assert 500 < np.count_nonzero(exact) < 0.2 * exact.size
    assert np.ptp(pixels[~exact]) > 100  # the CT under the outline, not a blank picture


def test_real_data_ct_snapshot_and_overlay_mosaic(tmp_path):
    series = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
    labels = tmp_path / "ct.nrrd"
    assert focusnet("segment", series, labels, "--model", LUNG_MODEL, "--threads", 2, "-q").returncode == 0
    result = focusnet("snapshot", labels, tmp_path / "ct.png", "--model", LUNG_MODEL, "--image", series,
                      "--size", "640x480", environment=without_display())
    assert result.returncode == 0, result.stderr
    pixels = read_rgb(tmp_path / "ct.png")
    assert pixels.shape == (480, 640, 3) and np.count_nonzero(label_hued(pixels)) > 2000
    result = focusnet("overlay", series, labels, tmp_path / "mosaic.png", "--model", LUNG_MODEL, "--slices", 9)
    assert result.returncode == 0, result.stderr
    mosaic = read_rgb(tmp_path / "mosaic.png")
    assert mosaic.shape == (3 * 512, 3 * 512, 3)  # 3 x 3 slices of 512 x 512
    assert np.count_nonzero(np.all(mosaic == LABEL_COLOUR, axis=-1)) > 500


AMBER = np.array([255, 176, 0])  # a flagged picture's border and text


def test_real_data_a_flagged_result_is_framed_in_amber_with_its_flag_name(tmp_path):
    # The abdominal CT's false lung is flagged implausible-volume; segment's overlay shows it.
    series = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
    result = focusnet("segment", series, tmp_path / "ct.nrrd", "--overlay", tmp_path / "ct.png", "--threads", 2)
    assert result.returncode == 0, result.stderr
    assert "flagged implausible-volume" in result.stdout
    pixels = read_rgb(tmp_path / "ct.png")
    amber = np.all(pixels == AMBER, axis=-1)
    # 512 x 512: a border of 512 / 100 = 5 pixels all round, and nothing amber inside it but the text.
    assert pixels.shape == (512, 512, 3)
    ring = np.ones((512, 512), bool)
    ring[5:-5, 5:-5] = False
    assert amber[ring].all()
    # The name in letters 2 x 2 pixels large, in cells of 12, half a cell in from the border, on a black ground of
    # its 18 letters and one more cell, 18 pixels high.
    ys, xs = np.nonzero(amber[5:-5, 5:-5])
    assert ys.max() < 18 and 5 + 6 + 17 * 12 <= 5 + xs.max() < 5 + 6 + 18 * 12
    ground = pixels[5:5 + 18, 5:5 + 19 * 12]
    assert np.all((ground == 0) | (ground == AMBER), axis=-1).all()
    letters = np.all(ground == AMBER, axis=-1)
    for n in range(len("implausible-volume")):  # every letter drawn in its cell, each of 2 x 2 pixel dots
        cell = letters[:, 6 + 12 * n:6 + 12 * (n + 1)]
        assert cell.any() and np.count_nonzero(cell) % 4 == 0, n
    # The bundled lung slice is flagged nothing: no amber at all.
    result = focusnet("segment", LUNG_SLICE, tmp_path / "lung.nrrd", "--overlay", tmp_path / "lung.png")
    assert result.returncode == 0 and ": flagged" not in result.stdout
    assert not np.all(read_rgb(tmp_path / "lung.png") == AMBER, axis=-1).any()
    # focusnet overlay takes the flags as summary.csv lists them, and refuses a name that is not one.
    result = focusnet("overlay", series, tmp_path / "ct.nrrd", tmp_path / "bad.png", "--flags", "no-target bogus")
    assert result.returncode != 0 and not (tmp_path / "bad.png").exists()
    assert result.stderr.strip().splitlines() == [
        "focusnet: error: --flags: 'bogus' is not a quality flag (no-target, out-of-distribution, implausible-volume, "
        "uncertain, fragmented)"]


@pytest.mark.skipif(not os.environ.get("FOCUSNET_VTK_EXAMPLE"), reason="examples/ is not built")
def test_real_data_the_vtk_pipeline_example_runs_to_its_end(tmp_path):
    """examples/VTKPipeline.cxx on the real CT series: it exits 0 (a crash after its line fails here), its surface
    encloses the label map's voxel volume (counted here from `focusnet segment`'s label map; measured 0.76% apart) and
    its picture is the rendered lung over the CT, read with Pillow."""
    series = SHARED_DATA / "dicom_samples/ct_series_totalsegmentator"
    result = subprocess.run([os.environ["FOCUSNET_VTK_EXAMPLE"], series, LUNG_MODEL, tmp_path / "example.png"],
                            capture_output=True, text=True, env=without_display(), timeout=300)
    assert result.returncode == 0, result.stderr
    line = re.fullmatch(r"Lung: (\d+) triangles enclosing ([0-9.]+) mL; picture (.+)\n", result.stdout)
    assert line and int(line.group(1)) > 1000 and line.group(3) == str(tmp_path / "example.png"), result.stdout
    assert focusnet("segment", series, tmp_path / "labels.nrrd", "--model", LUNG_MODEL, "--threads", 2,
                    "-q").returncode == 0
    labels = tmp_path / "labels.nrrd"
    volume_ml = np.count_nonzero(read_nrrd(labels)) * np.prod(nrrd_spacing(labels)) / 1000
    assert float(line.group(2)) == pytest.approx(volume_ml, rel=0.015)
    pixels = read_rgb(tmp_path / "example.png")
    assert pixels.shape == (480, 640, 3) and np.count_nonzero(label_hued(pixels)) > 2000 and pixels.std() > 20
