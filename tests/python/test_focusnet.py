"""The Python bindings against the focusnet command: same labels for the same image, whatever the array's layout.

Inputs are read here without FocusNet (a TIFF reader below, pydicom for DICOM) and compared with what the command
writes, read back by the MetaImage reader below. Run by ctest with Debian's /usr/bin/python3; tests named
test_real_data_* read ../shared/data and are left out where it is missing.
"""
import os
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import focusnet

EXECUTABLE = os.environ["FOCUSNET_EXECUTABLE"]
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED_DATA = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
LUNG_SLICE = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"
LUNG_MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"


def read_tiff(path):
    """A single-image TIFF as the Kaggle lung slices are stored: strips, deflate or none, horizontal predictor."""
    data = Path(path).read_bytes()
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    tags = {}
    for i in range(count):
        entry = data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        tag, kind, n = struct.unpack(order + "HHI", entry[:8])
        size = {3: 2, 4: 4}.get(kind, 1)
        fmt = order + {3: "H", 4: "I"}.get(kind, "B") * n
        raw = entry[8:12] if n * size <= 4 else data[struct.unpack(order + "I", entry[8:12])[0] :][: n * size]
        tags[tag] = struct.unpack(fmt, raw[: n * size]) if kind in (3, 4) else raw
    width, height, bits = tags[256][0], tags[257][0], tags[258][0]
    signed = tags.get(339, (1,))[0] == 2
    compression, predictor = tags.get(259, (1,))[0], tags.get(317, (1,))[0]
    strips = b""
    for offset, size in zip(tags[273], tags[279]):
        strip = data[offset : offset + size]
        strips += zlib.decompress(strip) if compression in (8, 32946) else strip
    unsigned = np.frombuffer(strips, dtype=order + "u%d" % (bits // 8)).reshape(height, width)
    if predictor == 2:  # each sample stored as the difference to its left neighbour, modulo 2^bits
        unsigned = np.cumsum(unsigned, axis=1, dtype=unsigned.dtype)
    return unsigned.view(order + ("i" if signed else "u") + "%d" % (bits // 8)).astype(np.float32)


METAIMAGE_TYPES = {"MET_UCHAR": np.uint8, "MET_SHORT": np.int16, "MET_FLOAT": np.float32, "MET_DOUBLE": np.float64}


def read_mha(path):
    """A MetaImage file with its data inside (LOCAL), compressed or not: the array in numpy's (z, y, x) order."""
    data = Path(path).read_bytes()
    header, position = {}, 0
    while True:
        end = data.index(b"\n", position)
        key, _, value = data[position:end].decode().partition(" = ")
        header[key.strip()] = value.strip()
        position = end + 1
        if key.strip() == "ElementDataFile":
            break
    body = data[position:]
    if header.get("CompressedData") == "True":
        body = zlib.decompress(body)
    shape = [int(v) for v in header["DimSize"].split()][::-1]
    channels = int(header.get("ElementNumberOfChannels", "1"))
    array = np.frombuffer(body, dtype=METAIMAGE_TYPES[header["ElementType"]])
    return array.reshape(shape + ([channels] if channels > 1 else []))


def write_mha(path, array, spacing=None, origin=None, direction=None, channels=1):
    """Writes array ((z,) y, x[, channels]) as an uncompressed MetaImage with the given geometry (x, y, z order)."""
    dimension = array.ndim - (1 if channels > 1 else 0)
    shape = array.shape[:dimension][::-1]
    types = {np.dtype(v): k for k, v in METAIMAGE_TYPES.items()}
    lines = [
        "ObjectType = Image",
        "NDims = %d" % dimension,
        "DimSize = " + " ".join(str(s) for s in shape),
        "ElementSpacing = " + " ".join(repr(float(s)) for s in (spacing or [1.0] * dimension)),
        "Offset = " + " ".join(repr(float(s)) for s in (origin or [0.0] * dimension)),
        # MetaImage stores the direction column by column.
        "TransformMatrix = " + " ".join(repr(float(v)) for v in np.asarray(direction or np.eye(dimension)).T.ravel()),
        "ElementNumberOfChannels = %d" % channels,
        "ElementType = " + types[array.dtype],
        "ElementDataFile = LOCAL",
    ]
    Path(path).write_bytes(("\n".join(lines) + "\n").encode() + np.ascontiguousarray(array).tobytes())


def focusnet_command(*arguments):
    result = subprocess.run([EXECUTABLE, *map(str, arguments)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def lung_model():
    return focusnet.Model(LUNG_MODEL, device="cpu", threads=2)


@pytest.fixture(scope="module")
def lung_slice():
    return read_tiff(LUNG_SLICE)


@pytest.fixture(scope="module")
def lung_labels_of_the_command(tmp_path_factory):
    output = tmp_path_factory.mktemp("command") / "lung.mha"
    focusnet_command("segment", LUNG_SLICE, output, "--model", LUNG_MODEL, "--threads", 2, "-q")
    return read_mha(output)


def test_the_tiff_reader_of_this_test_reads_ct_values(lung_slice):
    # An independent reader must first read right: CT in Hounsfield units, air about -1000.
    assert lung_slice.shape == (512, 512)
    assert -1100 < np.percentile(lung_slice, 5) < -800
    assert lung_slice.max() > 200


def test_lung_slice_gives_the_labels_of_the_command(lung_model, lung_slice, lung_labels_of_the_command):
    labels = lung_model.segment(lung_slice)
    assert labels.dtype == np.uint8 and labels.shape == lung_slice.shape
    assert labels.sum() > 10000  # lung, labelled 1
    np.testing.assert_array_equal(labels, lung_labels_of_the_command)


@pytest.mark.parametrize(
    "layout",
    ["int16", "float64", "fortran order", "reversed view of a reversed copy", "every other column of a wider array"],
)
def test_any_real_dtype_and_memory_layout_gives_the_same_labels(lung_model, lung_slice, lung_labels_of_the_command, layout):
    image = {
        "int16": lambda: lung_slice.astype(np.int16),
        "float64": lambda: lung_slice.astype(np.float64),
        "fortran order": lambda: np.asfortranarray(lung_slice),
        "reversed view of a reversed copy": lambda: np.ascontiguousarray(lung_slice[::-1, ::-1])[::-1, ::-1],
        "every other column of a wider array": lambda: np.repeat(lung_slice, 2, axis=1)[:, ::2],
    }[layout]()
    np.testing.assert_array_equal(image, lung_slice)
    np.testing.assert_array_equal(lung_model.segment(image), lung_labels_of_the_command)


def test_uint8_images_give_the_labels_of_the_command(lung_model, tmp_path):
    image = (np.random.default_rng(3).random((2, 40, 48)) * 255).astype(np.uint8)
    write_mha(tmp_path / "in.mha", image)
    focusnet_command("segment", tmp_path / "in.mha", tmp_path / "out.mha", "--model", LUNG_MODEL, "--threads", 2, "-q")
    np.testing.assert_array_equal(lung_model.segment(image), read_mha(tmp_path / "out.mha"))


def test_rgb_images_give_the_labels_of_the_command(tmp_path):
    model_file = tmp_path / "rgb.fnm"
    focusnet_command("init", "focusnet", model_file, "--in-channels", 3, "--width", 0.25, "--size", 64, "--seed", 4)
    rgb = (np.random.default_rng(5).random((50, 70, 3)) * 255).astype(np.uint8)
    write_mha(tmp_path / "in.mha", rgb, channels=3)
    focusnet_command("segment", tmp_path / "in.mha", tmp_path / "out.mha", "--model", model_file, "--probabilities",
                     tmp_path / "p.mha", "--threshold", 0.5, "-q")
    labels, probabilities = focusnet.Model(model_file, device="cpu").segment(rgb, threshold=0.5, probabilities=True)
    assert labels.shape == (50, 70)
    np.testing.assert_array_equal(probabilities, read_mha(tmp_path / "p.mha"))
    np.testing.assert_array_equal(labels, read_mha(tmp_path / "out.mha"))


def test_an_anisotropic_oblique_volume_gives_the_probabilities_of_the_command(lung_model, lung_slice, tmp_path):
    volume = np.stack([lung_slice[::4, ::4], lung_slice[1::4, ::4], lung_slice[2::4, 1::4]])  # 3 x 128 x 128
    spacing, origin = [0.7, 0.75, 2.5], [-120.0, 30.0, 14.0]
    direction = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    write_mha(tmp_path / "in.mha", volume, spacing, origin, direction)
    focusnet_command("segment", tmp_path / "in.mha", tmp_path / "out.mha", "--model", LUNG_MODEL, "--threads", 2,
                     "--probabilities", tmp_path / "p.mha", "-q")
    labels, probabilities = lung_model.segment(volume, spacing, origin, direction, probabilities=True)
    assert probabilities.dtype == np.float32 and probabilities.shape == volume.shape
    np.testing.assert_array_equal(probabilities, read_mha(tmp_path / "p.mha"))
    np.testing.assert_array_equal(labels, read_mha(tmp_path / "out.mha"))


def test_slices_across_another_axis_are_the_commands(lung_model, lung_slice, tmp_path):
    volume = np.stack([lung_slice[::8, ::8]] * 4).astype(np.float32)  # 4 x 64 x 64
    write_mha(tmp_path / "in.mha", volume)
    # numpy axis 2 is ITK's axis 0.
    focusnet_command("segment", tmp_path / "in.mha", tmp_path / "out.mha", "--model", LUNG_MODEL, "--axis", 0, "-q")
    np.testing.assert_array_equal(lung_model.segment(volume, axis=2), read_mha(tmp_path / "out.mha"))


def test_bad_arguments_raise_the_documented_exceptions(lung_model, lung_slice, tmp_path):
    with pytest.raises(ValueError, match="dimensions"):
        lung_model.segment(np.zeros(10))
    with pytest.raises(ValueError, match="dimensions"):
        lung_model.segment(np.zeros((2, 2, 8, 8)))
    with pytest.raises(ValueError, match="4 channels"):
        lung_model.segment(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match="spacing must be finite"):
        lung_model.segment(lung_slice, spacing=(float("nan"), 1.0))
    with pytest.raises(ValueError, match="spacing needs 2 values"):
        lung_model.segment(lung_slice, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="real numbers"):
        lung_model.segment(np.zeros((8, 8), np.complex64))
    with pytest.raises(ValueError, match="threshold"):
        lung_model.segment(lung_slice, threshold=1.0)
    with pytest.raises(ValueError, match="axis"):
        lung_model.segment(lung_slice, axis=0)
    with pytest.raises(ValueError, match="invertible"):
        lung_model.segment(lung_slice, direction=[[1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(FileNotFoundError, match="missing.fnm"):
        focusnet.Model(tmp_path / "missing.fnm")
    (tmp_path / "not-a-model.fnm").write_bytes(b"hello")
    with pytest.raises(OSError, match="not a FocusNet model file"):
        focusnet.Model(tmp_path / "not-a-model.fnm")
    with pytest.raises(ValueError, match="cuda:7"):
        focusnet.Model(LUNG_MODEL, device="cuda:7")
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        lung_model.segment_file(tmp_path / "missing.tif", tmp_path / "out.nrrd")
    (tmp_path / "out.nrrd").write_text("precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        lung_model.segment_file(LUNG_SLICE, tmp_path / "out.nrrd")
    assert (tmp_path / "out.nrrd").read_text() == "precious"


def test_segment_file_is_the_file_to_file_job(lung_model, lung_labels_of_the_command, tmp_path):
    result = lung_model.segment_file(str(LUNG_SLICE), str(tmp_path / "lung.mha"), overlay=str(tmp_path / "o.png"))
    assert result["slices"] == 1 and result["label_voxels"] == int(lung_labels_of_the_command.sum())
    np.testing.assert_array_equal(read_mha(tmp_path / "lung.mha"), lung_labels_of_the_command)
    assert (tmp_path / "o.png").exists()


def test_the_model_describes_itself(lung_model):
    assert lung_model.parameter_count == 1207921
    assert lung_model.device == "cpu"
    assert lung_model.metadata["architecture"]["name"] == "focusnet"
    assert lung_model.label["name"] == "Lung" and lung_model.label["type"]["value"] == "39607008"
    default = focusnet.Model()  # the default model, beside the module
    assert Path(default.path).name == "focusnet-lung.fnm" and default.parameter_count == lung_model.parameter_count


def test_evaluate_gives_the_papers_metrics():
    truth = np.zeros((4, 5), np.uint8)
    truth[1:3, 1:4] = 255  # 6 pixels
    labels = np.zeros((4, 5), bool)
    labels[1:3, 2:5] = True  # 6 pixels, 4 of them right
    metrics = focusnet.evaluate(labels, truth)
    assert (metrics["true_positives"], metrics["false_positives"], metrics["false_negatives"]) == (4, 2, 2)
    assert metrics["dice"] == pytest.approx(2 * 4 / (2 * 4 + 2 + 2))
    assert metrics["jaccard"] == pytest.approx(4 / 8)
    assert metrics["specificity"] == pytest.approx(12 / 14)
    with pytest.raises(ValueError, match="same shape"):
        focusnet.evaluate(labels, truth[:3])


def test_two_threads_at_once_give_the_labels_of_one_at_a_time(lung_slice, lung_labels_of_the_command):
    model = focusnet.Model(LUNG_MODEL, device="cpu", threads=1)
    images = [lung_slice, lung_slice[::-1].copy()]
    alone = [model.segment(image) for image in images]
    together = [None, None]

    def run(k):
        together[k] = model.segment(images[k])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    np.testing.assert_array_equal(together[0], alone[0])
    np.testing.assert_array_equal(together[1], alone[1])
    np.testing.assert_array_equal(alone[0], lung_labels_of_the_command)


def longest_pause_of_another_thread(call):
    """(seconds call took, the longest time within it that a second Python thread, reading the clock and sleeping
    1 ms in a loop, went without a tick)."""
    ticks, running, stop = [], threading.Event(), threading.Event()

    def tick():
        running.set()
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    running.wait(10)
    started = time.perf_counter()
    call()
    ended = time.perf_counter()
    stop.set()
    ticker.join(10)
    during = [t for t in ticks if started <= t <= ended]
    return ended - started, float(np.diff([started, *during, ended]).max())


def test_the_gil_is_released_while_the_network_runs(lung_model, lung_slice):
    """Python threads run while segment() does. The control shows the measurement can fail: the built-in sum over a
    range is C code that holds the GIL throughout, and the ticking thread then pauses for the whole call."""
    volume = np.stack([lung_slice] * 8)
    lung_model.segment(volume[:1])  # the first call's one-off costs out of the way
    held, pause = longest_pause_of_another_thread(lambda: sum(range(20_000_000)))
    assert pause > 0.9 * held
    took, pause = longest_pause_of_another_thread(lambda: lung_model.segment(volume))
    while took < 0.5 and len(volume) < 256:  # a call long enough to tell, whatever the machine's speed
        volume = np.concatenate([volume, volume])
        took, pause = longest_pause_of_another_thread(lambda: lung_model.segment(volume))
    # Two cores: the ticker gets time even while the network uses both; measured here 8 ms pauses in 1.4 s calls.
    assert pause < 0.2 * took, (pause, took)


def test_tta_averages_the_probabilities_of_the_slice_and_its_left_right_mirror(lung_model, lung_slice, tmp_path):
    """The lung model was trained with left-right flips only (its metadata), so --tta is the mean of the slice's
    probabilities and those of its mirror image, mirrored back: computed here from two plain calls."""
    augmentation = lung_model.metadata["provenance"]["options"]["augmentation"]
    assert augmentation["flip_left_right"] and not augmentation["flip_up_down"]
    image = lung_slice[::2, ::2].copy()
    _, plain = lung_model.segment(image, probabilities=True)
    _, mirrored = lung_model.segment(image[:, ::-1].copy(), probabilities=True)
    labels, averaged = lung_model.segment(image, tta=True, probabilities=True)
    np.testing.assert_allclose(averaged, (plain + mirrored[:, ::-1]) / 2, atol=1e-6)
    assert np.abs(averaged - plain).max() > 1e-3  # the mirror image does change the probabilities
    np.testing.assert_array_equal(labels, (averaged >= lung_model.metadata["threshold"]).astype(np.uint8))
    # The command's --tta: the same labels and probabilities.
    write_mha(tmp_path / "in.mha", image)
    focusnet_command("segment", tmp_path / "in.mha", tmp_path / "out.mha", "--model", LUNG_MODEL, "--threads", 2,
                     "--tta", "--probabilities", tmp_path / "p.mha", "-q")
    np.testing.assert_array_equal(read_mha(tmp_path / "out.mha"), labels)
    np.testing.assert_allclose(read_mha(tmp_path / "p.mha"), averaged, atol=1e-6)


def test_hold_threads_keeps_the_models_thread_count_over_a_loop_and_then_gives_the_process_its_own_back(
    lung_model, lung_slice, lung_labels_of_the_command
):
    # Debian's python3-torch runs the same LibTorch as the module, so it reads the count the module sets.
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with lung_model.hold_threads():
            assert torch.get_num_threads() == 2
            held = [lung_model.segment(lung_slice) for _ in range(2)]
            assert torch.get_num_threads() == 2  # not given back between the calls
        assert torch.get_num_threads() == 1
        hold = lung_model.hold_threads()
        with hold:
            with pytest.raises(RuntimeError, match="already entered"):
                hold.__enter__()
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
        alone = lung_model.segment(lung_slice)
        assert torch.get_num_threads() == 1  # a call outside gives it back
    finally:
        torch.set_num_threads(before)
    for labels in [*held, alone]:
        np.testing.assert_array_equal(labels, lung_labels_of_the_command)


def test_real_data_ct_series_read_with_pydicom_gives_the_labels_of_the_command(lung_model, tmp_path):
    pydicom = pytest.importorskip("pydicom")
    series = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
    slices = [pydicom.dcmread(str(f)) for f in sorted(series.iterdir()) if f.is_file()]
    normal = np.cross(*np.reshape(np.array(slices[0].ImageOrientationPatient, float), (2, 3)))
    slices.sort(key=lambda s: float(np.dot(normal, np.array(s.ImagePositionPatient, float))))
    volume = np.stack([s.pixel_array * float(s.RescaleSlope) + float(s.RescaleIntercept) for s in slices])
    focusnet_command("segment", series, tmp_path / "ct.mha", "--model", LUNG_MODEL, "--threads", 2, "-q")
    labels = lung_model.segment(volume)
    assert labels.shape == (20, 512, 512) and labels.sum() > 1000
    np.testing.assert_array_equal(labels, read_mha(tmp_path / "ct.mha"))


def test_read_image_reads_what_an_independent_reader_reads(lung_slice):
    image, spacing, origin, direction = focusnet.read_image(LUNG_SLICE)
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image, lung_slice)
    assert len(spacing) == 2 and len(origin) == 2
    np.testing.assert_array_equal(np.array(direction), np.eye(2))
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        focusnet.read_image(SOURCE_DIR / "missing.tif")
    with pytest.raises(OSError, match="README.md"):
        focusnet.read_image(SOURCE_DIR / "README.md")


def test_the_readme_example_runs_as_written(capsys, monkeypatch):
    readme = (SOURCE_DIR / "README.md").read_text()
    section = readme[readme.index("## In Python") :]
    example = section[section.index("```python\n") + len("```python\n") : section.index("```\n", section.index("```python"))]
    monkeypatch.chdir(SOURCE_DIR)
    monkeypatch.delenv("FOCUSNET_MODEL", raising=False)
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("Lung ") and float(printed.split("Dice ")[1]) > 0.95, printed


def test_real_data_isic_dermoscopy_pair_gives_the_labels_of_the_command(tmp_path):
    # A real RGB photograph (JPEG; read with FocusNet's reader, numpy has none) through an RGB model.
    image_file = SHARED_DATA / "isic2017_sample/images/ISIC_0009995.jpg"
    model_file = tmp_path / "rgb.fnm"
    focusnet_command("init", "focusnet", model_file, "--in-channels", 3, "--width", 0.25, "--size", 64, "--seed", 6)
    image, spacing, origin, direction = focusnet.read_image(image_file)
    assert image.shape == (768, 1024, 3)
    focusnet_command("segment", image_file, tmp_path / "out.mha", "--model", model_file, "--probabilities",
                     tmp_path / "p.mha", "-q")
    labels, probabilities = focusnet.Model(model_file, device="cpu").segment(
        image, spacing, origin, direction, probabilities=True)
    assert probabilities.std() > 1e-4  # an untrained model, but not a constant one
    np.testing.assert_array_equal(probabilities, read_mha(tmp_path / "p.mha"))
    np.testing.assert_array_equal(labels, read_mha(tmp_path / "out.mha"))


def test_bf16_agrees_with_fp32_where_the_cpu_has_it_and_is_refused_elsewhere(lung_slice):
    with pytest.raises(ValueError, match="precision must be fp32, bf16 or fp16, not 'fp8'"):
        focusnet.Model(LUNG_MODEL, device="cpu", precision="fp8")
    with pytest.raises(ValueError, match="fp16 precision runs on GPUs only"):
        focusnet.Model(LUNG_MODEL, device="cpu", precision="fp16")
    flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    assert focusnet.native_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
    if not focusnet.native_bf16():
        with pytest.raises(ValueError, match="AVX512-BF16 or AMX"):
            focusnet.Model(LUNG_MODEL, device="cpu", precision="bf16")
        return
    fp32 = focusnet.Model(LUNG_MODEL, device="cpu", threads=2).segment(lung_slice)
    bf16 = focusnet.Model(LUNG_MODEL, device="cpu", threads=2, precision="bf16").segment(lung_slice)
    both, total = np.logical_and(fp32, bf16).sum(), fp32.astype(bool).sum() + bf16.astype(bool).sum()
    assert 2 * both / total >= 0.999  # Dice, computed here
