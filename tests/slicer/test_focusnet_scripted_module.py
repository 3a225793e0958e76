"""The FocusNet scripted module without Slicer: its Python compiles, and its Slicer-free part (FocusNetLib: the model
file header read in plain Python, the CLI module's parameters) works on real model files and agrees with the XML."""
import ast
import os
import py_compile
import struct
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
MODULE_DIR = SOURCE_DIR / "slicer_extension/FocusNet"
XML_FILE = SOURCE_DIR / "slicer_extension/FocusNetSegmentation/FocusNetSegmentation.xml"
LUNG_MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
sys.path.insert(0, str(MODULE_DIR))

from FocusNetLib import ModelFileError, cli_parameters, describe_model, read_model_header  # noqa: E402


def test_the_module_compiles_and_imports_only_what_focusnetlib_has(tmp_path):
    py_compile.compile(str(MODULE_DIR / "FocusNet.py"), cfile=str(tmp_path / "FocusNet.pyc"), doraise=True)
    tree = ast.parse((MODULE_DIR / "FocusNet.py").read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "FocusNetLib"
                for alias in node.names]
    import FocusNetLib

    assert imported and all(hasattr(FocusNetLib, name) for name in imported)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert {"FocusNet", "FocusNetWidget", "FocusNetLogic", "FocusNetTest"} <= classes


def test_the_panel_names_every_widget_the_module_uses():
    ui = ElementTree.parse(MODULE_DIR / "Resources/UI/FocusNet.ui").getroot()
    widgets = {w.get("name") for w in ui.iter("widget")}
    used = set(__import__("re").findall(r"self\.ui\.(\w+)", (MODULE_DIR / "FocusNet.py").read_text()))
    assert used and used <= widgets, used - widgets


def test_the_header_of_the_default_model_is_read_without_libtorch():
    header = read_model_header(LUNG_MODEL)
    assert header["metadata"]["label"]["name"] == "Lung"
    text = describe_model(header)
    assert 'Lung (label 1, SCT 39607008 "Lung")' in text
    assert "focusnet, width 0.25" in text and "validation Dice 0.98" in text


def test_bad_model_files_are_named(tmp_path):
    good = LUNG_MODEL.read_bytes()
    cases = {
        "foreign.fnm": b"GIF89a" + good[6:100],
        "truncated.fnm": good[:12],
        "newer.fnm": good[:8] + struct.pack("<I", 2) + good[12:200],
        "short-header.fnm": good[:40],
        "not-json.fnm": good[:20] + b"#" + good[21:300],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelFileError, match=name):
            read_model_header(tmp_path / name)
    with pytest.raises(ModelFileError, match="missing.fnm"):
        read_model_header(tmp_path / "missing.fnm")


def test_the_cli_parameters_are_those_of_the_xml():
    root = ElementTree.parse(XML_FILE).getroot()
    declared = {p.findtext("name").strip(): p.tag for group in root.findall("parameters") for p in group
                if p.tag not in ("label", "description")}
    parameters = cli_parameters("vtkMRMLScalarVolumeNode1", "vtkMRMLLabelMapVolumeNode1", "/tmp/s.seg.nrrd",
                                LUNG_MODEL, "cpu", 2, 4, 0.4, True)
    assert set(parameters) <= set(declared)
    assert {"inputVolume", "outputLabelVolume", "outputSegmentation"} <= set(parameters)
    kinds = {"integer": int, "double": float, "boolean": bool}
    for name, value in parameters.items():
        assert isinstance(value, kinds.get(declared[name], str)), name
    device = next(p for group in root.findall("parameters") for p in group if p.findtext("name") == "device")
    assert parameters["device"] in [e.text for e in device.findall("element")]
    for bad in (dict(device="tpu"), dict(threshold=1.0), dict(batch_size=0), dict(threads=-1)):
        with pytest.raises(ValueError):
            cli_parameters("a", "b", "c.seg.nrrd", **bad)
