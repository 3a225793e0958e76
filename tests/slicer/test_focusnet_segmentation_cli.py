"""The Slicer CLI module FocusNetSegmentation run as 3D Slicer runs it, and the .seg.nrrd files FocusNet writes.

The command lines are built from the module's XML (read here with xml.etree), not written by hand; volumes go in and
come out as NRRD files, read and written by the small NRRD code below (not by FocusNet's C++). Run by ctest with
Debian's /usr/bin/python3.
"""
import gzip
import os
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

MODULE = os.environ["FOCUSNET_SEGMENTATION_CLI"]
FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
XML_FILE = SOURCE_DIR / "slicer_extension/FocusNetSegmentation/FocusNetSegmentation.xml"
LUNG_MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
NRRD_TYPES = {"uchar": np.uint8, "unsigned char": np.uint8, "short": np.int16, "float": np.float32}


def write_nrrd(path, array, spacing, origin, direction):
    """A 3D volume ((z, y, x) numpy order) as an uncompressed NRRD in LPS space, as Slicer writes volumes."""
    columns = np.asarray(direction, float) * np.asarray(spacing, float)  # column k: axis k's step in space
    header = [
        "NRRD0004",
        "type: " + {np.dtype(np.float32): "float", np.dtype(np.int16): "short"}[array.dtype],
        "dimension: 3",
        "space: left-posterior-superior",
        "sizes: " + " ".join(str(s) for s in array.shape[::-1]),
        "space directions: " + " ".join("(%r,%r,%r)" % tuple(columns[:, k]) for k in range(3)),
        "kinds: domain domain domain",
        "endian: little",
        "encoding: raw",
        "space origin: (%r,%r,%r)" % tuple(origin),
    ]
    Path(path).write_bytes(("\n".join(header) + "\n\n").encode() + np.ascontiguousarray(array).astype("<" + array.dtype.str[1:]).tobytes())


def read_nrrd(path):
    """(array in (z, y, x) order, fields, key/value pairs) of a NRRD file with its data attached, raw or gzip."""
    data = Path(path).read_bytes()
    end = data.index(b"\n\n")
    fields, pairs = {}, {}
    for line in data[:end].decode().splitlines()[1:]:
        if line.startswith("#"):
            continue
        if ":=" in line:
            key, value = line.split(":=", 1)
            pairs[key] = value
        else:
            key, value = line.split(": ", 1)
            fields[key] = value
    body = data[end + 2 :]
    if fields["encoding"] in ("gzip", "gz"):
        body = gzip.decompress(body)
    sizes = [int(s) for s in fields["sizes"].split()]
    array = np.frombuffer(body, dtype=NRRD_TYPES[fields["type"]]).reshape(sizes[::-1])
    return array, fields, pairs


def geometry(fields):
    directions = [tuple(float(v) for v in d.split(",")) for d in re.findall(r"\(([^)]*)\)", fields["space directions"])]
    origin = tuple(float(v) for v in re.findall(r"\(([^)]*)\)", fields["space origin"])[0].split(","))
    return fields["space"], fields["sizes"], np.round(directions, 9).tolist(), np.round(origin, 9).tolist()


def module_parameters():
    """Every parameter of the XML: (tag, name, flag, longflag, index, channel, default, elements)."""
    root = ElementTree.parse(XML_FILE).getroot()
    parameters = []
    for group in root.findall("parameters"):
        for p in group:
            if p.tag in ("label", "description"):
                continue
            text = lambda tag: (p.findtext(tag) or "").strip()
            parameters.append(dict(tag=p.tag, name=text("name"), flag=text("flag"), longflag=text("longflag"),
                                   index=int(text("index")) if text("index") else None, channel=text("channel"),
                                   default=text("default"), elements=[e.text for e in p.findall("element")]))
    return parameters


def slicer_command_line(values, short=False):
    """The command line Slicer builds: flagged parameters as --longflag VALUE (or -f), booleans as a bare flag when
    true, then the index parameters in index order."""
    arguments, positional = [MODULE], []
    for p in module_parameters():
        if p["name"] not in values:
            continue
        value = values[p["name"]]
        if p["index"] is not None:
            positional.append((p["index"], str(value)))
            continue
        flag = "-" + p["flag"] if short and p["flag"] else "--" + p["longflag"]
        if p["tag"] == "boolean":
            arguments += [flag] if value else []
        else:
            arguments += [flag, str(value)]
    return arguments + [value for _, value in sorted(positional)]


@pytest.fixture(scope="module")
def volume_file(tmp_path_factory):
    """A small oblique, anisotropic CT-like volume in HU (3 x 96 x 80)."""
    folder = tmp_path_factory.mktemp("slicer")
    z, y, x = np.mgrid[0:3, 0:96, 0:80]
    body = ((y - 48) / 40.0) ** 2 + ((x - 40) / 34.0) ** 2 < 1
    lungs = (((y - 48) / 22.0) ** 2 + ((abs(x - 40) - 15) / 10.0) ** 2 < 1) & body
    volume = np.where(body, 40.0, -1000.0) + np.where(lungs, -860.0, 0.0) + 5.0 * z
    direction = [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    write_nrrd(folder / "volume.nrrd", volume.astype(np.float32), [0.8, 0.7, 2.5], [-30.5, 12.25, 100.0], direction)
    return folder / "volume.nrrd"


def test_the_executable_answers_xml_with_the_module_description():
    answer = subprocess.run([MODULE, "--xml"], capture_output=True, check=True).stdout
    assert answer == XML_FILE.read_bytes()
    subprocess.run(["xmllint", "--noout", "-"], input=answer, check=True)


def test_names_and_flags_follow_the_rules_of_slicers_parser():
    # SlicerExecutionModel's ModuleDescriptionParser refuses a <name> or <longflag> that is not letters, digits and
    # underscores starting with a letter or underscore (it refused "batch-size"), and a <flag> that is not 1 letter.
    for p in module_parameters():
        for key in ("name", "longflag"):
            assert p[key] == "" or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p[key]), (key, p[key])
        assert p["flag"] == "" or re.fullmatch(r"[A-Za-z]", p["flag"]), p["flag"]


@pytest.mark.parametrize("short", [False, True])
def test_every_parameter_of_the_xml_is_accepted(tmp_path, short, volume_file):
    values = {}
    for p in module_parameters():
        if p["index"] is None and not p["flag"] and not p["longflag"]:
            continue  # output scalars: returned through --returnparameterfile
        if p["tag"] in ("image", "file"):
            values[p["name"]] = volume_file if p["channel"] == "input" and p["tag"] == "image" else (
                LUNG_MODEL if p["name"] == "modelFile" else tmp_path / (p["name"] + (".seg.nrrd" if "seg" in p["name"].lower() else ".nrrd")))
        elif p["tag"] == "string-enumeration":
            values[p["name"]] = "cpu" if p["name"] == "device" else p["default"]  # what runs on every CPU
        elif p["tag"] == "boolean":
            values[p["name"]] = True
        else:
            values[p["name"]] = p["default"] if p["name"] != "threads" else 2
    result = subprocess.run(slicer_command_line(values, short) + ["--echo"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    echoed = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    for name, value in values.items():
        assert echoed[name] == ("true" if value is True else str(value)), name


def test_every_option_of_the_library_is_a_parameter_of_the_xml():
    # The README's option table is made from the library's description (focusnet-options); its Slicer CLI column
    # names each option as this module must take it.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- options: made by focusnet-options")[1].split("<!-- options: end -->")[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ") and "`--" in line]
    slicer_flags = {row[4].strip().strip("`") for row in rows}
    assert len(rows) == 6 and "--batchSize" in slicer_flags, table
    declared = {"--" + p["longflag"] for p in module_parameters() if p["longflag"]}
    assert slicer_flags <= declared, slicer_flags - declared


def test_anything_the_xml_does_not_declare_is_refused(volume_file, tmp_path):
    base = [MODULE, str(volume_file), str(tmp_path / "labels.nrrd")]
    for extra in (["--overwrite"], ["--axis", "1"], ["-x"], ["--device", "tpu"], ["--batchSize", "0"], ["extra"]):
        result = subprocess.run(base + extra, capture_output=True, text=True)
        assert result.returncode != 0, extra
    assert not (tmp_path / "labels.nrrd").exists()


def test_the_library_s_options_are_refused_in_the_library_s_words_and_any_cuda_n_is_a_device(volume_file, tmp_path):
    # The words of every other front door (tests/bad_inputs), written out here; one line each.
    base = [MODULE, str(volume_file), str(tmp_path / "labels.nrrd"), "--threads", "2"]
    for extra, words in ((["--batchSize", "0"], "--batchSize: batch size must lie in [1, 256], not 0"),
                         (["--threads", "257"], "--threads: threads must lie in [0, 256], not 257"),
                         (["--threshold", "1"], "--threshold: threshold must lie strictly between 0 and 1, not 1"),
                         (["--precision", "fp8"], "--precision: precision must be fp32, bf16 or fp16, not 'fp8'"),
                         (["--device", "gpu"], "--device: device must be auto, cpu, cuda or cuda:N, not 'gpu'"),
                         # What the check reads is what is used: not hexadecimal (0x1 read as 1, then used as 0),
                         # not a number a double cannot hold (1e-400 read as 0: the model file's threshold).
                         (["--batchSize", "0x1"], "--batchSize: batch size must be a decimal number, not '0x1'"),
                         (["--batchSize", "2.5"], "--batchSize: batch size must be a whole number, not 2.5"),
                         (["--threshold", "1e-400"], "--threshold: threshold must be a decimal number, not '1e-400'")):
        result = subprocess.run(base + extra, capture_output=True, text=True)
        assert (result.returncode, result.stderr) == (105, "FocusNetSegmentation: error: " + words + "\n"), extra
    # cuda:7 is not among the XML's choices (Slicer's panel offers cuda:0 to cuda:3) but is a device's name: parsed,
    # then refused by the engine because this machine has no such GPU (CI has none).
    result = subprocess.run(base + ["--device", "cuda:7", "--echo"], capture_output=True, text=True)
    assert "device = cuda:7" in result.stdout.splitlines(), result.stdout
    assert result.returncode != 0 and "'cuda:7' requested" in result.stderr, result.stderr
    assert not (tmp_path / "labels.nrrd").exists()


def test_a_run_as_slicer_runs_it(volume_file, tmp_path):
    values = dict(inputVolume=volume_file, outputLabelVolume=tmp_path / "labels.nrrd",
                  outputSegmentation=tmp_path / "FocusNet.seg.nrrd", probabilityVolume=tmp_path / "p.nrrd",
                  modelFile=LUNG_MODEL, threads=2, batchSize=2, device="cpu", threshold=0, tta=False)
    result = subprocess.run(slicer_command_line(values) + ["--returnparameterfile", str(tmp_path / "return.txt")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    # Progress as Slicer reads it from stdout: start, a fraction per batch of 2 slices, end.
    tags = re.findall(r"<(filter-start|filter-progress|filter-end)>([^<]*)", result.stdout)
    assert [t for t, _ in tags] == ["filter-start"] + ["filter-progress"] * 3 + ["filter-end"], result.stdout
    fractions = [float(v) for t, v in tags if t == "filter-progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    volume, volume_fields, _ = read_nrrd(volume_file)
    labels, label_fields, _ = read_nrrd(tmp_path / "labels.nrrd")
    probabilities, probability_fields, _ = read_nrrd(tmp_path / "p.nrrd")
    segmentation, segmentation_fields, pairs = read_nrrd(tmp_path / "FocusNet.seg.nrrd")
    for fields in (label_fields, probability_fields, segmentation_fields):
        assert geometry(fields) == geometry(volume_fields)
    assert labels.dtype == np.uint8 and probabilities.dtype == np.float32
    assert set(np.unique(labels)) <= {0, 1} and labels.sum() > 0
    np.testing.assert_array_equal(labels, (probabilities >= 0.5).astype(np.uint8))

    # The segmentation: the label map's voxels and the fields Slicer's segmentation storage node reads.
    np.testing.assert_array_equal(segmentation, labels)
    assert pairs["Segment0_Name"] == "Lung" and pairs["Segment0_ID"] == "Segment_1"
    assert pairs["Segment0_LabelValue"] == "1" and pairs["Segment0_Layer"] == "0"
    assert [round(float(c) * 255) for c in pairs["Segment0_Color"].split()] == [128, 174, 128]
    assert "TerminologyEntry:" in pairs["Segment0_Tags"] and "~SCT^39607008^Lung~" in pairs["Segment0_Tags"]
    z, y, x = np.nonzero(segmentation)
    assert pairs["Segment0_Extent"] == "%d %d %d %d %d %d" % (x.min(), x.max(), y.min(), y.max(), z.min(), z.max())
    assert pairs["Segmentation_ContainedRepresentationNames"].split("|")[0] == "Binary labelmap"
    assert pairs["Segmentation_SourceRepresentation"] == "Binary labelmap"
    assert pairs["Segmentation_ReferenceImageExtentOffset"] == "0 0 0"

    # Output parameters in Slicer's return-parameter format.
    returned = dict(line.split(" = ") for line in (tmp_path / "return.txt").read_text().splitlines())
    assert int(returned["voxelCount"]) == labels.sum()
    assert float(returned["segmentedVolume"]) == pytest.approx(labels.sum() * 0.8 * 0.7 * 2.5 / 1000.0, rel=1e-5)
    # The quality flags, as focusnet segment reports them for the same volume.
    printed = subprocess.run([FOCUSNET, "segment", str(volume_file), str(tmp_path / "again.nrrd"), "--model",
                              str(LUNG_MODEL), "--threads", "2"], check=True, capture_output=True, text=True).stdout
    flagged = re.findall(r": flagged ([a-z-]+): (.*)$", printed, re.M)
    assert returned["qualityFlags"] == (" ".join(name for name, _ in flagged) or "none")
    assert returned["qualityReasons"] == " | ".join("%s: %s" % pair for pair in flagged)


def test_the_build_trees_module_finds_the_default_model_and_its_xml_beside_it(volume_file, tmp_path):
    # As Slicer finds them in an installed extension: the XML at <executable>.xml, the default model at the same
    # place relative to the executable as installed. The default is the repository's model.
    assert Path(MODULE + ".xml").read_bytes() == XML_FILE.read_bytes()
    outputs, comments = [], []
    for name, model in (("default", None), ("given", LUNG_MODEL)):
        values = dict(inputVolume=volume_file, outputLabelVolume=tmp_path / (name + ".nrrd"), threads=2, device="cpu")
        if model:
            values["modelFile"] = model
        result = subprocess.run(slicer_command_line(values), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        outputs.append(read_nrrd(tmp_path / (name + ".nrrd"))[0])
        comments += re.findall(r"<filter-comment>([^<]*)", result.stdout)
    assert comments == ["Lung with focusnet-lung.fnm"] * 2
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_a_failed_run_says_why_in_one_line_and_writes_nothing(tmp_path):
    values = dict(inputVolume=tmp_path / "missing.nrrd", outputLabelVolume=tmp_path / "labels.nrrd",
                  outputSegmentation=tmp_path / "s.seg.nrrd", modelFile=LUNG_MODEL)
    result = subprocess.run(slicer_command_line(values), capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "missing.nrrd" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_empty_file_name_is_refused_by_its_parameter_name(volume_file, tmp_path):
    # Found by fuzzing the command line (fuzz/focusnetFuzzSlicerCommandLine.cxx): an empty input reached the reader,
    # whose message named no file (": no such file or directory").
    for arguments, name in (([""], "inputVolume"), ([str(volume_file), ""], "outputLabelVolume")):
        result = subprocess.run([MODULE] + arguments + ([""] if len(arguments) == 1 else []), capture_output=True,
                                text=True)
        assert result.returncode != 0
        assert name + ": an empty file name" in result.stderr, result.stderr
        assert "<filter-start>" not in result.stdout  # refused before any work
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def lung_slice_outputs(tmp_path_factory):
    """`focusnet segment` of a 2D lung slice: the folder with its lung.seg.nrrd and its label map lung.nrrd."""
    folder = tmp_path_factory.mktemp("lung-slice")
    lung = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"
    for output in ("lung.seg.nrrd", "lung.nrrd"):
        subprocess.run([FOCUSNET, "segment", lung, folder / output, "--model", LUNG_MODEL, "--threads", "2", "-q"],
                       check=True)
    return folder


def test_focusnet_segment_writes_a_slicer_segmentation_of_a_2d_image(lung_slice_outputs):
    segmentation, fields, pairs = read_nrrd(lung_slice_outputs / "lung.seg.nrrd")
    labels, _, _ = read_nrrd(lung_slice_outputs / "lung.nrrd")
    assert fields["dimension"] == "3" and segmentation.shape == (1, 512, 512)  # Slicer needs 3 spatial dimensions
    np.testing.assert_array_equal(segmentation[0], labels)
    assert pairs["Segment0_Name"] == "Lung"


def slicerio():
    """Slicer's own reader of .seg.nrrd files (lassoan/slicerio, with pynrrd), from ../shared/third_party."""
    import sys

    third_party = Path(os.environ["FOCUSNET_SHARED_DIR"]) / "third_party"
    sys.path[:0] = [str(third_party / "slicerio"), str(third_party / "pynrrd")]
    import slicerio as reader

    return reader


def test_the_segmentation_files_read_back_with_slicers_own_reader(volume_file, lung_slice_outputs, tmp_path):
    # The CLI module's --segmentation of the oblique volume and `focusnet segment`'s of a 2D lung slice, read by
    # slicerio: one segment named, coloured and coded as the lung model says (Lung, 128 174 128, SCT 39607008), label
    # value 1, the voxels of the label map and the input's geometry (index to LPS), as written into the input here.
    reader = slicerio()
    values = dict(inputVolume=volume_file, outputLabelVolume=tmp_path / "labels.nrrd",
                  outputSegmentation=tmp_path / "cli.seg.nrrd", modelFile=LUNG_MODEL, threads=2, device="cpu")
    result = subprocess.run(slicer_command_line(values), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    direction = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # as volume_file was written
    oblique = np.eye(4)
    oblique[:3, :3], oblique[:3, 3] = direction * [0.8, 0.7, 2.5], [-30.5, 12.25, 100.0]
    slice_geometry = np.eye(4)  # a TIFF has no geometry: unit spacing at the origin, one slice
    cases = ((tmp_path / "cli.seg.nrrd", tmp_path / "labels.nrrd", oblique),
             (lung_slice_outputs / "lung.seg.nrrd", lung_slice_outputs / "lung.nrrd", slice_geometry))
    for name, label_map, ijk_to_lps in cases:
        segmentation = reader.read_segmentation(str(name))
        assert len(segmentation["segments"]) == 1, name
        segment = segmentation["segments"][0]
        assert segment["name"] == "Lung" and segment["labelValue"] == 1, name
        assert [round(c * 255) for c in segment["color"]] == [128, 174, 128], name
        assert segment["terminology"]["type"] == ["SCT", "39607008", "Lung"], name
        np.testing.assert_allclose(segmentation["ijkToLPS"], ijk_to_lps, atol=1e-9, err_msg=name)
        labels = read_nrrd(label_map)[0]
        voxels = segmentation["voxels"]  # slicerio's (i, j, k) order; read_nrrd's is (k, j, i)
        np.testing.assert_array_equal(voxels, labels.transpose().reshape(voxels.shape), err_msg=name)
        assert voxels.sum() > 0, name
