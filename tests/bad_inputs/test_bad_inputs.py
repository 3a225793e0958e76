"""A corpus of bad inputs through every front door: `focusnet segment`, `batch` and `evaluate`, `focusnet-train`, the
Python bindings and the Slicer CLI module.

The corpus is generated here, by writers of this file (Pillow for PNG/TIFF/JPEG, hand-written NRRD, MetaImage and
NIfTI headers, pydicom for DICOM), not by FocusNet. Every bad input must give: a non-zero exit code (not a signal) or
an exception, one line on stderr naming the file and the problem, no output file, and the inputs untouched. Odd but
valid inputs (1 x 1 images, one-slice volumes, 16-bit RGB, RGBA, a 2-slice series) must be segmented. Run by ctest
with Debian's /usr/bin/python3.
"""
import csv
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from focusnet_test_files import read_nrrd

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
TRAIN = os.environ.get("FOCUSNET_TRAIN_EXECUTABLE", "")
CLI_MODULE = os.environ.get("FOCUSNET_SEGMENTATION_CLI", "")
SHARED = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
try:
    import focusnet
except ImportError:  # the bindings are not built: their door is left out
    focusnet = None
try:
    import pydicom
except ImportError:
    pydicom = None

# OpenJPEG, under GDCM, prints its own complaint about a damaged JPEG 2000 stream before FocusNet's error line.
LIBRARY_LINES = ("Tile part length size inconsistent",)


# ---- writers of this test -------------------------------------------------------------------------------------------
def pil_bytes(array, kind, **options):
    data = io.BytesIO()
    Image.fromarray(array).save(data, kind, **options)
    return data.getvalue()


def nrrd_bytes(array, kind="uchar", sizes=None):
    sizes = sizes or array.shape[::-1]
    header = "NRRD0004\ntype: %s\ndimension: %d\nsizes: %s\nendian: little\nencoding: raw\n\n" % (
        kind, len(sizes), " ".join(map(str, sizes)))
    return header.encode() + array.tobytes()


def mha_bytes(array, kind="MET_UCHAR", sizes=None, channels=1):
    sizes = sizes or array.shape[::-1][(1 if channels > 1 else 0):]
    header = "ObjectType = Image\nNDims = %d\nDimSize = %s\nElementNumberOfChannels = %d\nElementType = %s\n" \
             "ElementDataFile = LOCAL\n" % (len(sizes), " ".join(map(str, sizes)), channels, kind)
    return header.encode() + array.tobytes()


def nifti_bytes(array, sizes=None, datatype=2, bits=8):
    """NIfTI-1 single file: 348-byte header, 4 bytes of extension flags, then the voxels (vox_offset 352)."""
    sizes = sizes or array.shape[::-1]
    header = bytearray(348)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, len(sizes), *sizes, *([1] * (7 - len(sizes))))
    struct.pack_into("<hh", header, 70, datatype, bits)
    struct.pack_into("<8f", header, 76, *([1.0] * 8))
    struct.pack_into("<f", header, 108, 352.0)
    header[344:348] = b"n+1\0"
    return bytes(header) + b"\0" * 4 + array.tobytes()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width, height, bits, colour, rows):
    """A PNG written by hand (Pillow cannot write 16-bit RGB): colour 0 gray, 2 RGB."""
    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0)
    raw = b"".join(b"\0" + row for row in rows)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw)) + \
        png_chunk(b"IEND", b"")


def tiff_bytes(width, height):
    """A little-endian baseline TIFF header declaring width x height 8-bit gray pixels in one strip of 16 bytes."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 8 + 4), (277, 3, 1, 1), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, count, value in entries) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", 8) + ifd + b"\0" * 16


def write_model_variant(source, target, edit_metadata=None, version=None, edit_header=None, keep_checksum=False):
    """A copy of a .fnm model file with its JSON header edited; the metadata checksum is made to match unless asked
    not to (so that the edit, not the checksum, is what is refused)."""
    data = Path(source).read_bytes()
    old_version, length = struct.unpack_from("<IQ", data, 8)
    header = json.loads(data[20:20 + length])
    if edit_metadata:
        edit_metadata(header["metadata"])
        if not keep_checksum and "metadata_crc32" in header:
            text = json.dumps(header["metadata"], separators=(",", ":"), sort_keys=True, ensure_ascii=False)
            header["metadata_crc32"] = zlib.crc32(text.encode()) & 0xFFFFFFFF
    if edit_header:
        edit_header(header)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    Path(target).write_bytes(data[:8] + struct.pack("<IQ", version or old_version, len(text)) + text +
                             data[20 + length:])


# ---- running the front doors ----------------------------------------------------------------------------------------
def run(*arguments, env=None):
    return subprocess.run([str(a) for a in arguments], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() \
        else []


def fingerprint(folder):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def expect_clean_failure(result, program, names, output_folder, reason=None):
    """Non-zero exit (not a signal), one error line naming one of names (and reason), nothing under output_folder."""
    assert result.returncode > 0, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith(LIBRARY_LINES)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(program + ": error: "), result.stderr
    assert any(str(name) in lines[0] for name in names), (names, result.stderr)
    if reason:
        assert reason in lines[0], (reason, result.stderr)
    assert files_under(output_folder) == [], files_under(output_folder)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Small untrained models made by `focusnet init`: gray and RGB, 32 x 32 input (fast; untrained is enough to see
    that an input is refused or segmented)."""
    folder = tmp_path_factory.mktemp("models")
    models = {}
    for name, channels in (("gray", 1), ("rgb", 3)):
        models[name] = folder / (name + ".fnm")
        result = run(FOCUSNET, "init", "focusnet", models[name], "--width", "0.125", "--size", "32",
                     "--min-channels", "4", "--in-channels", channels)
        assert result.returncode == 0, result.stderr
    return models


# ---- the image corpus -----------------------------------------------------------------------------------------------
def intact_images():
    """(picture, {extension: the picture's file in that format}): the intact files the corpus empties and cuts."""
    rng = np.random.default_rng(7)
    gray = (rng.random((32, 32)) * 255).astype(np.uint8)
    valid = {"tif": pil_bytes(gray, "TIFF"), "png": pil_bytes(gray, "PNG"), "jpg": pil_bytes(gray, "JPEG"),
             "nrrd": nrrd_bytes(gray), "mha": mha_bytes(gray), "nii": nifti_bytes(gray)}
    import gzip
    valid["nii.gz"] = gzip.compress(valid["nii"])
    return gray, valid


def image_corpus(folder):
    """{name: (path, reason fragment)} of image files every door must refuse."""
    gray, valid = intact_images()
    corpus = {}

    def add(name, data, reason=None):
        (folder / name).write_bytes(data)
        corpus[name] = (folder / name, reason)

    for extension, data in valid.items():
        add("empty." + extension, b"")
        add("half." + extension, data[: len(data) // 2])
    add("text.png", b"this is not a picture\n")
    add("huge.nrrd", nrrd_bytes(gray, sizes=(100000, 100000, 100000)), "FOCUSNET_MAX_VOXELS")
    add("huge.mha", mha_bytes(gray, sizes=(100000, 100000, 100000)), "FOCUSNET_MAX_VOXELS")
    add("huge.nii", nifti_bytes(gray, sizes=(30000, 30000, 30000)), "FOCUSNET_MAX_VOXELS")
    add("huge.png", png_bytes(1000000, 1000000, 8, 0, [b"\0" * 10]), "FOCUSNET_MAX_VOXELS")
    add("huge.tif", tiff_bytes(200000, 200000), "FOCUSNET_MAX_VOXELS")
    nan = np.ones((32, 32), np.float32)
    nan[:4] = np.nan
    add("nan.nrrd", nrrd_bytes(nan, "float"), "NaN")
    add("nan.tif", pil_bytes(nan, "TIFF"), "NaN")  # (ITK's NIfTI reader itself reads NaN as 0)
    inf = np.ones((32, 32), np.float32)
    inf[5, 5] = -np.inf
    add("inf.mha", mha_bytes(inf, "MET_FLOAT"), "infinite")
    for name in [n for n in corpus if n.startswith("half.")]:
        corpus[name] = (corpus[name][0], None)
    return corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, image_corpus(folder)


def names_of(make_corpus, *arguments):
    """The case names of a corpus, for parametrize (the files are made again, per test module, by the fixtures)."""
    with tempfile.TemporaryDirectory() as folder:
        return sorted(make_corpus(Path(folder), *arguments))


CORPUS_NAMES = names_of(image_corpus)


@pytest.fixture(scope="module")
def good_mask(tmp_path_factory):
    path = tmp_path_factory.mktemp("mask") / "mask.png"
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    path.write_bytes(pil_bytes(mask, "PNG"))
    return path


def test_the_intact_files_of_the_corpus_are_read_alike_by_every_door(tiny_models, tmp_path):
    # The corpus's positive control: each intact file that the corpus empties or cuts is accepted, by the command and
    # (where built) the Python bindings and the Slicer CLI module, and gives the probabilities of the same picture:
    # a reader that refused a format whole, or read it wrongly, fails here. JPEG is lossy: close, not equal.
    gray, valid = intact_images()
    model = focusnet.Model(tiny_models["gray"], device="cpu", threads=1) if focusnet is not None else None
    probabilities = {}
    for extension, data in valid.items():
        image = tmp_path / ("intact." + extension)
        image.write_bytes(data)
        output = tmp_path / (extension + ".probabilities.nrrd")
        result = run(FOCUSNET, "segment", image, tmp_path / (extension + ".labels.nrrd"), "--model",
                     tiny_models["gray"], "--threads", "1", "--probabilities", output)
        assert result.returncode == 0, (extension, result.stderr)
        probabilities[extension] = read_nrrd(output, np.float32).reshape(32, 32)
        if CLI_MODULE:
            result = run(CLI_MODULE, "--model", tiny_models["gray"], "--threads", "1", "--probabilities",
                         tmp_path / (extension + ".cli.nrrd"), image, tmp_path / (extension + ".cli-labels.nrrd"))
            assert result.returncode == 0, (extension, result.stderr)
            np.testing.assert_array_equal(read_nrrd(tmp_path / (extension + ".cli.nrrd"), np.float32).reshape(32, 32),
                                          probabilities[extension], err_msg=extension)
        if model is not None:
            model.segment_file(str(image), str(tmp_path / (extension + ".py.nrrd")))
            np.testing.assert_array_equal(read_nrrd(tmp_path / (extension + ".py.nrrd")),
                                          read_nrrd(tmp_path / (extension + ".labels.nrrd")), err_msg=extension)
    reference = probabilities["png"]
    assert reference.std() > 1e-4  # the untrained model answers the picture, not a constant
    for extension in ("tif", "nrrd", "mha", "nii", "nii.gz"):
        np.testing.assert_array_equal(probabilities[extension], reference, err_msg=extension)
    assert np.abs(probabilities["jpg"] - reference).mean() < 0.02  # measured 0.004
    # The labels (the model's threshold) are neither blank nor full.
    labels = read_nrrd(tmp_path / "nii.gz.labels.nrrd").reshape(32, 32)
    assert 0 < np.count_nonzero(labels) < labels.size


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_segment_refuses_each_bad_image(name, corpus, tiny_models, tmp_path):
    folder, cases = corpus
    path, reason = cases[name]
    before = fingerprint(folder)
    result = run(FOCUSNET, "segment", path, tmp_path / "out.nrrd", "--model", tiny_models["gray"], "--threads", "1")
    expect_clean_failure(result, "focusnet", [path], tmp_path, reason)
    assert fingerprint(folder) == before


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_evaluate_and_training_refuse_each_bad_image_and_each_bad_mask(name, corpus, tiny_models, good_mask, tmp_path):
    folder, cases = corpus
    path, reason = cases[name]
    before = fingerprint(folder)
    good = tmp_path / "good.png"
    good.write_bytes(pil_bytes(np.full((32, 32), 100, np.uint8), "PNG"))
    for pair in ((path, good_mask), (good, path)):
        listing = tmp_path / "list.txt"
        listing.write_text("%s,%s\n" % pair)
        out = tmp_path / "out"
        out.mkdir()
        result = run(FOCUSNET, "evaluate", "--model", tiny_models["gray"], "--list", listing, "--csv", out / "m.csv",
                     "--threads", "1")
        expect_clean_failure(result, "focusnet", [path], out, reason)
        if TRAIN:
            result = run(TRAIN, "--list", listing, "--val-list", listing, "-o", out / "run", "--epochs", "1",
                         "--size", "32", "--width", "0.125", "--min-channels", "4", "--threads", "1")
            expect_clean_failure(result, "focusnet-train", [path], out, reason)
            assert not (out / "run").exists()
        shutil.rmtree(out)
    assert fingerprint(folder) == before


@pytest.mark.skipif(not CLI_MODULE, reason="the Slicer CLI module is not built")
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_slicer_cli_refuses_each_bad_image(name, corpus, tiny_models, tmp_path):
    folder, cases = corpus
    path, reason = cases[name]
    result = run(CLI_MODULE, path, tmp_path / "out.nrrd", "--model", tiny_models["gray"], "--threads", "1")
    # The module reports to Slicer between <filter-start> lines on stdout; stderr holds the one error line.
    expect_clean_failure(result, "FocusNetSegmentation", [path], tmp_path, reason)


@pytest.mark.skipif(focusnet is None, reason="the Python bindings are not built")
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_python_refuses_each_bad_image(name, corpus, tiny_models, tmp_path):
    folder, cases = corpus
    path, reason = cases[name]
    model = focusnet.Model(tiny_models["gray"], threads=1)
    for call in (lambda: focusnet.read_image(path), lambda: model.segment_file(path, tmp_path / "out.nrrd")):
        with pytest.raises((OSError, RuntimeError)) as error:
            call()
        assert str(path) in str(error.value)
        if reason:
            assert reason in str(error.value)
    assert files_under(tmp_path) == []


def test_python_refuses_arrays_with_nan_or_infinity(tiny_models):
    if focusnet is None:
        pytest.skip("the Python bindings are not built")
    model = focusnet.Model(tiny_models["gray"], threads=1)
    for bad in (np.nan, np.inf, -np.inf):
        image = np.zeros((2, 16, 16), np.float32)
        image[1, 3, 3] = bad
        with pytest.raises(RuntimeError, match="NaN or infinite"):
            model.segment(image)


def test_the_voxel_limit_can_be_raised_and_is_checked(tiny_models, tmp_path):
    image = tmp_path / "image.png"
    image.write_bytes(pil_bytes(np.zeros((40, 50), np.uint8), "PNG"))
    out = tmp_path / "out"
    out.mkdir()
    low = run(FOCUSNET, "segment", image, out / "l.nrrd", "--model", tiny_models["gray"], env={"FOCUSNET_MAX_VOXELS": "1999"})
    expect_clean_failure(low, "focusnet", [image], out, "50 x 40 pixels, more than the 1999 values")
    assert run(FOCUSNET, "segment", image, out / "l.nrrd", "--model", tiny_models["gray"],
               env={"FOCUSNET_MAX_VOXELS": "2000"}).returncode == 0
    (out / "l.nrrd").unlink()
    for nonsense in ("lots", "-5", "0"):
        result = run(FOCUSNET, "segment", image, out / "l.nrrd", "--model", tiny_models["gray"],
                     env={"FOCUSNET_MAX_VOXELS": nonsense})
        expect_clean_failure(result, "focusnet", ["FOCUSNET_MAX_VOXELS"], out, "not a positive whole number")


# ---- odd but valid images -------------------------------------------------------------------------------------------
def test_odd_but_valid_images_are_segmented(tiny_models, tmp_path):
    rng = np.random.default_rng(3)
    rgb8 = (rng.random((24, 20, 3)) * 255).astype(np.uint8)
    cases = {
        "one-pixel.png": (pil_bytes(np.array([[90]], np.uint8), "PNG"), "gray", [1, 1]),
        "one-slice.nrrd": (nrrd_bytes(np.full((1, 12, 9), 40, np.int16), "short"), "gray", [1, 12, 9]),
        "two-slices.mha": (mha_bytes(np.full((2, 12, 9), 40, np.uint8)), "gray", [2, 12, 9]),
        "rgba.png": (pil_bytes(np.dstack([rgb8, np.full((24, 20), 255, np.uint8)]), "PNG"), "rgb", [24, 20]),
        "rgb8.png": (pil_bytes(rgb8, "PNG"), "rgb", [24, 20]),
        # 16-bit RGB: each value v * 257, which maps back onto the 8-bit picture exactly.
        "rgb16.png": (png_bytes(20, 24, 16, 2, [(rgb8[r].astype(">u2") * 257).tobytes() for r in range(24)]), "rgb",
                      [24, 20]),
        "rgb16.mha": (mha_bytes(rgb8.astype("<u2") * 257, "MET_USHORT", channels=3), "rgb", [24, 20]),
    }
    labels = {}
    for name, (data, model, shape) in cases.items():
        (tmp_path / name).write_bytes(data)
        output = tmp_path / (name + ".labels.nrrd")
        result = run(FOCUSNET, "segment", tmp_path / name, output, "--model", tiny_models[model], "--threads", "1",
                     "--threshold", "0.5")
        assert result.returncode == 0, (name, result.stderr)
        labels[name] = read_nrrd(output)
        assert list(labels[name].shape) == shape, name
    # The colour variants hold the same picture: the same labels, which are not blank (nor a constant).
    assert 0 < np.count_nonzero(labels["rgb8.png"]) < labels["rgb8.png"].size
    for name in ("rgba.png", "rgb16.png", "rgb16.mha"):
        np.testing.assert_array_equal(labels[name], labels["rgb8.png"], err_msg=name)


# ---- model files ----------------------------------------------------------------------------------------------------
def model_corpus(folder, source):
    """{name: (path, reason fragment)}: model files every door must refuse, made from a good one."""
    data = Path(source).read_bytes()
    corpus = {}

    def add(name, reason):
        corpus[name] = (folder / name, reason)

    (folder / "empty.fnm").write_bytes(b"")
    add("empty.fnm", "not a FocusNet model file")
    (folder / "foreign.fnm").write_bytes(pil_bytes(np.zeros((8, 8), np.uint8), "PNG"))
    add("foreign.fnm", "not a FocusNet model file")
    (folder / "torchscript.fnm").write_bytes(b"PK\x03\x04" + bytes(2000))
    add("torchscript.fnm", "not a FocusNet model file")
    (folder / "half.fnm").write_bytes(data[: len(data) // 2])
    add("half.fnm", "truncated")
    flipped = bytearray(data)
    flipped[-100] ^= 0x04
    (folder / "flipped-weights.fnm").write_bytes(bytes(flipped))
    add("flipped-weights.fnm", "checksum")
    # One letter of a key: a default would stand in for it without the metadata checksum.
    length = struct.unpack_from("<Q", data, 12)[0]
    header = data[20:20 + length]
    at = 20 + header.index(b'"attention_stem_width"') + 1
    flipped = bytearray(data)
    flipped[at] ^= 0x01
    (folder / "flipped-metadata.fnm").write_bytes(bytes(flipped))
    add("flipped-metadata.fnm", "metadata checksum")
    write_model_variant(source, folder / "newer.fnm", version=99)
    add("newer.fnm", "newer than this build reads")
    edits = {
        "unknown-architecture.fnm": (lambda m: m["architecture"].update(name="transformer"), "transformer"),
        "billion-channels.fnm": (lambda m: m["architecture"].update(input_channels=10 ** 9), "input channels"),
        "wide.fnm": (lambda m: m["architecture"].update(width=1e9), "width"),
        "negative-width.fnm": (lambda m: m["architecture"].update(width=-1), "width"),
        "negative-size.fnm": (lambda m: m.update(input_size=-256), "input size"),
        "huge-size.fnm": (lambda m: m.update(input_size=10 ** 9), "input size"),
        "huge-stem.fnm": (lambda m: m["architecture"].update(attention_stem_width=10 ** 9), "attention stem"),
        "label-300.fnm": (lambda m: m["label"].update(value=300), "label value"),
        "colour-999.fnm": (lambda m: m["label"].update(color=[999, 0, 0]), "label color"),
        "zero-std.fnm": (lambda m: m["normalization"].update(std=[0.0]), "std"),
        "string-size.fnm": (lambda m: m.update(input_size="big"), "input_size"),
    }
    for name, (edit, reason) in edits.items():
        write_model_variant(source, folder / name, edit_metadata=edit)
        add(name, reason)
    write_model_variant(source, folder / "payload-huge.fnm", edit_header=lambda h: h.update(payload_bytes=10 ** 15))
    add("payload-huge.fnm", "truncated")
    return corpus


MODEL_NAMES = names_of(model_corpus, Path(os.environ["FOCUSNET_SOURCE_DIR"]) / "test_data/models/focusnet-lung.fnm")


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_models):
    folder = tmp_path_factory.mktemp("bad-models")
    return folder, model_corpus(folder, tiny_models["gray"])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_door_refuses_each_bad_model_file(name, models, tmp_path):
    folder, cases = models
    path, reason = cases[name]
    before = fingerprint(folder)
    image = tmp_path / "in" / "image.png"
    image.parent.mkdir()
    image.write_bytes(pil_bytes(np.full((32, 32), 100, np.uint8), "PNG"))
    out = tmp_path / "out"
    out.mkdir()
    expect_clean_failure(run(FOCUSNET, "segment", image, out / "l.nrrd", "--model", path), "focusnet", [path], out,
                         reason)
    listing = tmp_path / "list.txt"
    listing.write_text("%s,%s\n" % (image, image))
    expect_clean_failure(run(FOCUSNET, "evaluate", "--model", path, "--list", listing, "--csv", out / "m.csv"),
                         "focusnet", [path], out, reason)
    if TRAIN:
        result = run(TRAIN, "--init", path, "--list", listing, "--val-list", listing, "-o", out / "run", "--epochs", "1")
        expect_clean_failure(result, "focusnet-train", [path], out, reason)
    if CLI_MODULE:
        expect_clean_failure(run(CLI_MODULE, image, out / "l.nrrd", "--model", path), "FocusNetSegmentation", [path],
                             out, reason)
    if focusnet is not None:
        with pytest.raises(OSError) as error:
            focusnet.Model(path)
        assert str(path) in str(error.value) and reason in str(error.value)
    assert fingerprint(folder) == before


def test_a_model_file_without_the_metadata_checksum_is_still_read(tiny_models, tmp_path):
    """Files written before the checksum was added have none: they load as before."""
    old = tmp_path / "old.fnm"
    write_model_variant(tiny_models["gray"], old, edit_header=lambda h: h.pop("metadata_crc32"))
    assert "metadata_crc32" not in old.read_bytes()[:4000].decode(errors="replace")
    result = run(FOCUSNET, "info", old)
    assert result.returncode == 0, result.stderr


# ---- outputs --------------------------------------------------------------------------------------------------------
def mount_tmpfs(folder, options):
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")


@pytest.fixture
def lung_slice(tmp_path):
    """A real CT slice of the bundled test data, copied (its contents must not change)."""
    source = Path(os.environ["FOCUSNET_SOURCE_DIR"]) / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"
    copy = tmp_path / "input" / "lung.tif"
    copy.parent.mkdir()
    shutil.copy(source, copy)
    return copy


def output_doors(model, image, output):
    """Each front door writing image's label map to output: (program, run) pairs."""
    doors = [("focusnet", lambda: run(FOCUSNET, "segment", image, output, "--model", model, "--threads", "1"))]
    if CLI_MODULE:
        doors.append(("FocusNetSegmentation", lambda: run(CLI_MODULE, image, output, "--model", model)))
    return doors


def test_outputs_in_a_missing_folder_or_over_the_input_are_refused(tiny_models, lung_slice, tmp_path):
    before = fingerprint(lung_slice.parent)
    for program, call in output_doors(tiny_models["gray"], lung_slice, tmp_path / "missing" / "out.nrrd"):
        expect_clean_failure(call(), program, ["missing"], tmp_path / "missing", "does not exist")
    result = run(FOCUSNET, "segment", lung_slice, lung_slice, "--model", tiny_models["gray"], "--overwrite")
    assert result.returncode > 0 and "would replace the input" in result.stderr, result.stderr
    if focusnet is not None:
        with pytest.raises(RuntimeError, match="would replace the input"):
            focusnet.Model(tiny_models["gray"]).segment_file(lung_slice, lung_slice, overwrite=True)
    assert fingerprint(lung_slice.parent) == before


@pytest.mark.parametrize("settings, reason", [(["--device", "tpu"], "device must be auto, cpu, cuda or cuda:N, not 'tpu'"),
                                              (["--precision", "fp8"], "precision must be fp32, bf16 or fp16, not 'fp8'"),
                                              (["--device", "cpu", "--precision", "fp16"], "fp16 precision runs on GPUs only")])
def test_a_device_or_precision_no_engine_can_run_is_refused_before_any_work(settings, reason, tiny_models, lung_slice,
                                                                           good_mask, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    listing = tmp_path / "list.txt"
    listing.write_text("%s,%s\n" % (lung_slice, good_mask))
    model = tiny_models["gray"]
    calls = [run(FOCUSNET, "segment", lung_slice, out / "labels.nrrd", "--model", model, *settings),
             run(FOCUSNET, "batch", lung_slice.parent, out / "batch", "--model", model, *settings),
             run(FOCUSNET, "evaluate", "--model", model, "--list", listing, "--csv", out / "m.csv", *settings)]
    if TRAIN and "--precision" not in settings:  # focusnet-train takes a device but trains in fp32
        calls.append(run(TRAIN, "--list", listing, "--val-list", listing, "-o", out / "run", "--epochs", "1", *settings))
    for result in calls:
        expect_clean_failure(result, os.path.basename(result.args[0]), [settings[-1]], out, reason)
    if CLI_MODULE:
        result = run(CLI_MODULE, lung_slice, out / "labels.nrrd", "--model", model, *settings)
        expect_clean_failure(result, "FocusNetSegmentation", [settings[-1]], out, reason)
    if focusnet is not None:
        keywords = dict(zip([k.lstrip("-") for k in settings[::2]], settings[1::2]))
        with pytest.raises(ValueError, match=reason):
            focusnet.Model(model, **keywords)


# Out-of-range option values and the words every door refuses them with, written here by hand (the library's
# focusnetOptions.h describes each option once; a door with a check of its own would word it its own way).
OUT_OF_RANGE = [("batch_size", 0, "batch size must lie in [1, 256], not 0"),
                ("batch_size", 257, "batch size must lie in [1, 256], not 257"),
                ("threads", -1, "threads must lie in [0, 256], not -1"),
                ("threads", 300, "threads must lie in [0, 256], not 300"),
                ("threshold", 7, "threshold must lie strictly between 0 and 1, not 7"),
                ("threshold", -1, "threshold must lie strictly between 0 and 1, not -1"),
                ("threshold", 1, "threshold must lie strictly between 0 and 1, not 1")]


@pytest.mark.parametrize("keyword, value, words", OUT_OF_RANGE)
def test_an_option_out_of_range_is_refused_in_the_same_words_by_every_door(keyword, value, words, tiny_models,
                                                                           lung_slice, good_mask, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    model = tiny_models["gray"]
    flag = ["--" + keyword.replace("_", "-"), str(value)]
    calls = [run(FOCUSNET, "segment", lung_slice, out / "labels.nrrd", "--model", model, *flag)]
    if keyword != "threshold":  # batch and evaluate take the model's threshold
        listing = tmp_path / "list.txt"
        listing.write_text("%s,%s\n" % (lung_slice, good_mask))
        calls += [run(FOCUSNET, "batch", lung_slice.parent, out / "batch", "--model", model, *flag),
                  run(FOCUSNET, "evaluate", "--model", model, "--list", listing, "--csv", out / "m.csv", *flag)]
    for result in calls:
        expect_clean_failure(result, "focusnet", [flag[0]], out, words)
    if TRAIN and keyword in ("threads", "batch_size"):  # those of these options focusnet-train takes
        result = run(TRAIN, "--list", listing, "--val-list", listing, "-o", out / "run", "--epochs", "1", *flag)
        expect_clean_failure(result, "focusnet-train", [flag[0]], out, words)
    if CLI_MODULE:  # Slicer's names: batchSize for batch_size
        slicer_flag = ["--" + re.sub(r"_(\w)", lambda m: m.group(1).upper(), keyword), str(value)]
        result = run(CLI_MODULE, lung_slice, out / "labels.nrrd", "--model", model, *slicer_flag)
        expect_clean_failure(result, "FocusNetSegmentation", [slicer_flag[0]], out, words)
    if focusnet is None:
        return
    if keyword == "threshold":
        loaded = focusnet.Model(model, device="cpu")
        with pytest.raises(ValueError) as raised:
            loaded.segment(np.zeros((32, 32), np.float32), threshold=value)
        assert str(raised.value) == words
        with pytest.raises(ValueError) as raised:
            loaded.segment_file(lung_slice, out / "labels.nrrd", threshold=value)
        assert str(raised.value) == words
    else:
        with pytest.raises(ValueError) as raised:
            focusnet.Model(model, device="cpu", **{keyword: value})
        assert str(raised.value) == words
    assert files_under(out) == []


@pytest.mark.parametrize("text, words", [("0x8", "batch size must be a decimal number, not '0x8'"),
                                         ("2.5", "batch size must be a whole number, not 2.5"),
                                         ("inf", "batch size must be a decimal number, not 'inf'"),
                                         # focusnet-train read 0257 as octal 175, within the range, and ran
                                         ("0257", "batch size must lie in [1, 256], not 257")])
def test_a_number_is_read_in_decimal_as_it_is_checked(text, words, tiny_models, lung_slice, tmp_path):
    """Every door that reads a number from text reads it once, as its check does: CLI11 alone would read 0x8 as 8 and
    010 as octal 8, and refuse 2.5 in its own words."""
    out = tmp_path / "out"
    out.mkdir()
    expect_clean_failure(run(FOCUSNET, "segment", lung_slice, out / "labels.nrrd", "--model", tiny_models["gray"],
                             "--batch-size", text), "focusnet", ["--batch-size"], out, words)
    if TRAIN:
        expect_clean_failure(run(TRAIN, "--images", out, "--masks", out, "-o", out / "run", "--batch-size", text),
                             "focusnet-train", ["--batch-size"], out, words)
    if CLI_MODULE:
        expect_clean_failure(run(CLI_MODULE, lung_slice, out / "labels.nrrd", "--batchSize", text),
                             "FocusNetSegmentation", ["--batchSize"], out, words)


def test_numbers_that_read_as_decimals_are_taken_by_every_door(tiny_models, lung_slice, tmp_path):
    """08 (not octal), 1e1 and 8.0 are whole decimal numbers: CLI11 alone refused them (it reads integers with base
    0 and without exponents), and read 010 as 8 after the check had read 10."""
    for value in ("08", "1e1", "8.0"):
        label = tmp_path / ("labels-%s.nrrd" % value)
        result = run(FOCUSNET, "segment", lung_slice, label, "--model", tiny_models["gray"], "--batch-size", value,
                     "--threads", "1")
        assert result.returncode == 0 and label.exists(), (value, result.stderr)
        if CLI_MODULE:
            label = tmp_path / ("slicer-%s.nrrd" % value)
            result = run(CLI_MODULE, lung_slice, label, "--model", tiny_models["gray"], "--batchSize", value,
                         "--threads", "1")
            assert result.returncode == 0 and label.exists(), (value, result.stderr)


def test_focusnet_train_refuses_its_own_options_out_of_range_before_any_output(tmp_path):
    if not TRAIN:
        pytest.skip("focusnet-train is not built (FOCUSNET_BUILD_TRAINING=OFF)")
    out = tmp_path / "out"
    out.mkdir()
    # Hand-written words; each value one step outside what the option takes.
    for flag, value, words in (("--epochs", "0", "epochs must lie in [1, 100000], not 0"),
                               ("--lr", "0", "learning rate must lie strictly between 0 and 1, not 0"),
                               ("--momentum", "1", "momentum must lie in [0, 0.999], not 1"),
                               ("--plateau-factor", "1", "plateau factor must lie strictly between 0 and 1, not 1"),
                               ("--zoom", "0.95", "zoom must lie in [0, 0.9], not 0.95"),
                               ("--val-fraction", "1", "validation fraction must lie in [0.01, 0.99], not 1"),
                               ("--early-stopping", "-1", "early stopping must lie in [0, 10000], not -1"),
                               ("--optimizer", "rmsprop", "optimizer must be adam or sgd, not 'rmsprop'")):
        result = run(TRAIN, "--images", out, "--masks", out, "-o", out / "run", flag, value)
        expect_clean_failure(result, "focusnet-train", [flag], out, words)


def test_every_door_has_the_same_defaults():
    """Read back from each door (its help, its signature, its XML), against the values written here."""
    expected = {"device": "auto", "threads": "0", "batch_size": "8", "precision": "fp32"}
    for command in ("segment", "batch", "evaluate"):
        help_text = run(FOCUSNET, command, "--help").stdout
        for keyword, value in expected.items():
            found = re.search(r"--%s [A-Z]+[^=\n]*=(\S+)" % keyword.replace("_", "-"), help_text)
            assert found and found.group(1) == value, (command, keyword, help_text)
    if focusnet is not None:
        signature = focusnet.Model.__init__.__doc__.splitlines()[0]
        for keyword, value in expected.items():
            assert re.search(r"\b%s: \w+ = '?%s'?[,)]" % (keyword, value), signature), (keyword, signature)
    if CLI_MODULE:
        import xml.etree.ElementTree as ElementTree
        description = ElementTree.fromstring(run(CLI_MODULE, "--xml").stdout)
        defaults = {p.findtext("name"): p.findtext("default") for p in description.iter() if p.find("name") is not None}
        assert (defaults["device"], defaults["threads"], defaults["batchSize"], defaults["precision"]) == \
            ("auto", "0", "8", "fp32"), defaults


@pytest.mark.skipif(focusnet is None, reason="the Python bindings are not built")
def test_python_segment_file_checks_its_keywords_as_segment_does(tiny_models, lung_slice, tmp_path):
    model = focusnet.Model(tiny_models["gray"], device="cpu")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=r"axis must be 0, 1 or 2 \(numpy's axes of a 3D image\), not 5"):
        model.segment_file(lung_slice, out / "labels.nrrd", axis=5)
    with pytest.raises(TypeError, match="probabilities names a file to write, not True"):
        model.segment_file(lung_slice, out / "labels.nrrd", probabilities=True)
    with pytest.raises(TypeError):  # a keyword it does not take, or an option by position
        model.segment_file(lung_slice, out / "labels.nrrd", thresold=0.5)
    with pytest.raises(TypeError):
        model.segment_file(lung_slice, out / "labels.nrrd", "1.2.3")
    assert files_under(out) == []
    # The defaults read back from the signature, as the command's are documented.
    signature = model.segment_file.__doc__.splitlines()[0]
    for default in ('series_uid: str = \'\'', "probabilities: object = None", "keep_empty_frames: bool = False",
                    "overwrite: bool = False", "tta: bool = False", "threshold: object = None", "axis: object = None"):
        assert default in signature, signature
    result = model.segment_file(lung_slice, out / "labels.nrrd", probabilities=out / "p.nrrd", threshold=0.5)
    assert result["slices"] == 1 and files_under(out) == ["labels.nrrd", "p.nrrd"]


def test_a_read_only_output_folder_is_refused(tiny_models, lung_slice, tmp_path):
    folder = tmp_path / "read-only"
    mount_tmpfs(folder, "ro,size=1m")
    try:
        for output in ("out.nrrd", "out.nii", "out.png", "out.seg.nrrd", "out.vti"):
            for program, call in output_doors(tiny_models["gray"], lung_slice, folder / output):
                if program != "focusnet" and output == "out.vti":
                    continue
                expect_clean_failure(call(), program, [output], folder)
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_gives_an_error_and_no_file(tiny_models, lung_slice, tmp_path):
    folder = tmp_path / "full"
    mount_tmpfs(folder, "size=256k")
    try:
        (folder / "filler").write_bytes(bytes(256 * 1024 - 8192))  # what the file system lets us have, less 2 pages
        for output in ("out.nrrd", "out.nii", "out.png", "out.tif", "out.seg.nrrd", "out.vti"):
            for program, call in output_doors(tiny_models["gray"], lung_slice, folder / output):
                if program != "focusnet" and output == "out.vti":
                    continue
                result = call()
                expect_clean_failure(result, program, [output], folder / "nothing-else", "the disk is full")
                assert files_under(folder) == ["filler"], files_under(folder)
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_disk_that_fills_while_writing_gives_an_error_and_no_file(tiny_models, tmp_path):
    """1.5 MiB free: more than the 1 MiB below which a disk counts as full, less than the 2 MiB label map (.nii is
    written uncompressed), so the writer runs out of space part way."""
    image = tmp_path / "volume.nrrd"
    image.write_bytes(nrrd_bytes(np.zeros((8, 512, 512), np.int16), "short"))
    folder = tmp_path / "filling"
    mount_tmpfs(folder, "size=1536k")
    try:
        result = run(FOCUSNET, "segment", image, folder / "labels.nii", "--model", tiny_models["gray"], "--threads", "2")
        assert result.returncode > 0, result.stderr
        last = result.stderr.splitlines()[-1]  # niftilib reports the short write in its own line first
        assert last.startswith("focusnet: error: ") and "labels.nii" in last and "the disk is full" in last, \
            result.stderr
        assert files_under(folder) == []
    finally:
        subprocess.run(["umount", str(folder)], check=True)


# ---- DICOM ----------------------------------------------------------------------------------------------------------
CT_SERIES = SHARED / "dicom_samples/ct_series_uids_restored"
UNCOMPRESSED_CT = SHARED / "dicom_samples/single"


def needs_dicom():
    if pydicom is None or not CT_SERIES.is_dir():
        pytest.skip("needs pydicom and the shared DICOM samples")


def dicom_corpus(root):
    """{name: (folder, reason fragment)} of DICOM series folders every door must refuse, made with pydicom from the
    real CT series (JPEG 2000) and an uncompressed CT slice. Each series and file gets UIDs of its own, as in an
    archive (FocusNet reads a file copied into two folders once)."""
    files = sorted(CT_SERIES.iterdir())[:5]
    corpus = {}

    def new_uids(dataset, number, index):
        dataset.SeriesInstanceUID = "2.25.%d" % (9000 + number)
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = "2.25.%d%03d" % (9000 + number, index)

    def series(name, reason, edit=None, count=5, sources=files):
        folder = root / name
        folder.mkdir(parents=True)
        for index, source in enumerate(sources[:count]):
            dataset = pydicom.dcmread(source)
            new_uids(dataset, len(corpus), index)
            if edit is not None:
                edit(index, dataset)
            dataset.save_as(folder / source.name)
        corpus[name] = (folder, reason)
        return folder

    def remove(keyword):
        return lambda index, dataset: delattr(dataset, keyword)

    series("no-position", "ImagePositionPatient", remove("ImagePositionPatient"))
    series("no-orientation", "ImageOrientationPatient", remove("ImageOrientationPatient"))
    series("no-pixel-spacing", "PixelSpacing", remove("PixelSpacing"))
    series("parallel-orientation", "perpendicular unit vectors",
           lambda i, d: setattr(d, "ImageOrientationPatient", [1, 0, 0, 1, 0, 0]))
    series("duplicate-positions", "duplicate slice positions",
           lambda i, d: setattr(d, "ImagePositionPatient", [0.0, 0.0, 5.0]))
    series("mixed-orientations", "mixed orientations",
           lambda i, d: setattr(d, "ImageOrientationPatient", [0, 1, 0, 0, 0, -1]) if i == 2 else None)
    series("mixed-sizes", "mixed image sizes", lambda i, d: setattr(d, "Rows", 256) if i == 1 else None)
    missing = series("missing-slice", "missing slices")
    sorted(missing.iterdir())[2].unlink()
    series("huge-rows", "FOCUSNET_MAX_VOXELS", lambda i, d: (setattr(d, "Rows", 65535), setattr(d, "Columns", 65535)),
           count=1)
    cut = series("cut-jpeg2000", None, count=3)
    damaged = sorted(cut.iterdir())[1]
    damaged.write_bytes(damaged.read_bytes()[:-20000])
    corpus["cut-jpeg2000"] = (cut, damaged.name)
    uncompressed = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
    plain = [next(p for p in sorted(UNCOMPRESSED_CT.iterdir())
                  if pydicom.dcmread(p).Modality == "CT" and pydicom.dcmread(p).file_meta.TransferSyntaxUID in uncompressed)]
    cut = series("cut-uncompressed", None, sources=plain)
    damaged = next(cut.iterdir())
    damaged.write_bytes(damaged.read_bytes()[:-5000])
    corpus["cut-uncompressed"] = (cut, damaged.name)
    series("short-pixel-data", "pixel data holds", lambda i, d: setattr(d, "PixelData", d.PixelData[:-5000]),
           sources=plain)
    (root / "empty").mkdir()
    corpus["empty"] = (root / "empty", "no DICOM series")
    other = root / "not-dicom"
    other.mkdir()
    (other / "notes.txt").write_text("not an image\n")
    (other / "IM0001").write_bytes(bytes(1000))
    corpus["not-dicom"] = (other, "no DICOM series")
    return corpus


DICOM_NAMES = ["no-position", "no-orientation", "no-pixel-spacing", "parallel-orientation", "duplicate-positions",
               "mixed-orientations", "mixed-sizes", "missing-slice", "huge-rows", "cut-jpeg2000", "cut-uncompressed",
               "short-pixel-data", "empty", "not-dicom"]


@pytest.fixture(scope="module")
def dicom_cases(tmp_path_factory):
    needs_dicom()
    return dicom_corpus(tmp_path_factory.mktemp("dicom"))


@pytest.mark.parametrize("name", DICOM_NAMES)
def test_real_data_segment_and_python_refuse_each_bad_dicom_series(name, dicom_cases, tiny_models, tmp_path):
    folder, reason = dicom_cases[name]
    before = fingerprint(folder)
    result = run(FOCUSNET, "segment", folder, tmp_path / "out.nrrd", "--model", tiny_models["gray"], "--threads", "1")
    expect_clean_failure(result, "focusnet", [folder], tmp_path, reason)
    if focusnet is not None:
        with pytest.raises((OSError, RuntimeError)) as error:
            focusnet.Model(tiny_models["gray"], threads=1).segment_file(folder, tmp_path / "out.nrrd")
        assert str(folder) in str(error.value) and (reason is None or reason in str(error.value))
    assert files_under(tmp_path) == []
    assert fingerprint(folder) == before


def test_real_data_batch_reports_each_bad_series_and_segments_the_good_ones(dicom_cases, tiny_models, tmp_path):
    """One tree holding every bad series and a good one (2 slices): the good one is segmented, each bad one is in
    summary.csv as failed or skipped with its reason, no file is half-written, and, as the README says, the run
    completes with exit code 0."""
    needs_dicom()
    tree = tmp_path / "tree"
    for name in DICOM_NAMES:
        if name not in ("empty", "not-dicom"):
            shutil.copytree(dicom_cases[name][0], tree / name)
    good = tree / "good-two-slices"
    good.mkdir()
    for index, source in enumerate(sorted(CT_SERIES.iterdir())[:2]):
        dataset = pydicom.dcmread(source)
        dataset.SeriesInstanceUID = "2.25.77"
        dataset.save_as(good / ("%d.dcm" % index))
    before = fingerprint(tree)
    out = tmp_path / "out"
    result = run(FOCUSNET, "batch", tree, out, "--model", tiny_models["gray"], "--threads", "1", "--formats", "nrrd")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((out / "summary.csv").open()))
    by_uid = {row["series_uid"]: row for row in rows}
    assert by_uid["2.25.77"]["status"] == "ok"
    bad = [row for row in rows if row["series_uid"] != "2.25.77"]
    assert all(row["status"] in ("failed", "skipped") and row["reason"] for row in bad), bad
    reasons = " ".join(row["reason"] for row in bad)
    for name in DICOM_NAMES:
        if name not in ("empty", "not-dicom") and dicom_cases[name][1]:
            assert dicom_cases[name][1] in reasons, name
    # A series with a file cut short in its pixel data fails naming the file (the README's failed row per damaged
    # file), and `dicom list` says so and counts the file as unreadable.
    # (short-pixel-data's file is whole, but its pixel data holds fewer bytes than its header declares: damaged too.)
    damaged = {name: tree / name / dicom_cases[name][1] for name in ("cut-jpeg2000", "cut-uncompressed")}
    damaged["short-pixel-data"] = next((tree / "short-pixel-data").iterdir())
    by_folder = {Path(row["source"]).name: row for row in bad}
    for name, file in damaged.items():
        row = by_folder[name]
        assert row["status"] == "failed" and row["reason"].startswith("damaged file %s: " % file), row
    listing = run(FOCUSNET, "dicom", "list", tree)
    assert listing.returncode == 0, listing.stderr
    statuses = {Path(line.split("\t")[7]).name: line.split("\t")[8] for line in listing.stdout.splitlines()[1:]}
    for name, file in damaged.items():
        assert statuses[name].startswith("failed: damaged file %s: " % file), statuses
    assert sum(status.startswith("failed") for status in statuses.values()) == len(damaged), statuses
    assert " %d unreadable DICOM files," % len(damaged) in listing.stderr, listing.stderr
    assert not [f for f in files_under(out) if ".partial-" in f]
    segmented = [f for f in files_under(out) if f.endswith("label.nrrd")]
    assert len(segmented) == 1, segmented
    assert fingerprint(tree) == before


def test_real_data_a_two_slice_and_a_one_slice_series_are_segmented(tiny_models, tmp_path):
    needs_dicom()
    for count in (1, 2):
        folder = tmp_path / ("series-%d" % count)
        folder.mkdir()
        for source in sorted(CT_SERIES.iterdir())[:count]:
            shutil.copy(source, folder)
        result = run(FOCUSNET, "segment", folder, tmp_path / ("%d.nrrd" % count), "--model", tiny_models["gray"])
        assert result.returncode == 0, result.stderr
        assert read_nrrd(tmp_path / ("%d.nrrd" % count)).shape == (count, 512, 512)
