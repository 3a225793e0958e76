"""The FocusNet scripted module without Slicer: its Python compiles, uses only what Slicer's Python package has, and
its Slicer-free part (FocusNetLib: the model file header read in plain Python, the CLI module's options read from its
XML, what a finished run says and leaves) works on real model files and agrees with the XML."""
import ast
import os
import py_compile
import re
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

from FocusNetLib import (  # noqa: E402
    ModelDescriptions,
    ModelFileError,
    RunScratch,
    cli_parameters,
    describe_model,
    end_run,
    read_cli_parameters,
    read_model_header,
    run_message,
)

SLICER_PYTHON = Path(os.environ["FOCUSNET_SHARED_DIR"]) / "third_party/slicer/Base/Python/slicer"


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
        "huge-header.fnm": good[:12] + struct.pack("<Q", 2 ** 62) + good[20:300],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelFileError, match=name):
            read_model_header(tmp_path / name)
    with pytest.raises(ModelFileError, match="missing.fnm"):
        read_model_header(tmp_path / "missing.fnm")


def test_a_header_without_an_architecture_is_described():
    header = read_model_header(LUNG_MODEL)
    del header["metadata"]["architecture"]
    header["metadata"]["provenance"] = "not json"
    text = describe_model(header)
    assert "Segments: Lung" in text and "Network: not recorded in the model file" in text
    assert "Training: not recorded in the model file" in text


def test_a_model_file_is_read_once_however_often_its_path_is_typed(tmp_path):
    reads = []

    def reader(path):
        reads.append(path)
        return read_model_header(path)

    descriptions = ModelDescriptions(reader)
    model = tmp_path / "lung.fnm"
    model.write_bytes(LUNG_MODEL.read_bytes())
    typed = [str(model)[:n] for n in range(1, len(str(model)) + 1)]  # each keystroke of the path
    texts = [descriptions.describe(path) for path in typed + [str(model)] * 3]
    assert reads == [str(model)]
    assert texts[-1].startswith("Segments: Lung") and texts[len(typed) - 3].endswith("no such file") and texts[0].endswith("not a file")
    assert "default model" in descriptions.describe("")
    model.write_bytes(LUNG_MODEL.read_bytes()[:30])  # changed: read again, and its error shown
    os.utime(model, ns=(1, 1))
    assert "truncated" in descriptions.describe(str(model)) and len(reads) == 2


def xml_parameter(name):
    root = ElementTree.parse(XML_FILE).getroot()
    return next(p for group in root.findall("parameters") for p in group if p.findtext("name") == name)


def test_the_options_are_read_from_the_xml_with_their_defaults_ranges_and_choices():
    options = read_cli_parameters(XML_FILE)
    # Every flagged scalar the user sets; not the files, images or the output scalars.
    assert list(options) == ["device", "precision", "batchSize", "threads", "threshold", "tta"]
    assert options["device"].choices == ("auto", "cpu", "cuda", "cuda:0", "cuda:1", "cuda:2", "cuda:3")
    assert options["device"].default == "auto"
    assert options["precision"].choices == ("fp32", "bf16", "fp16") and options["precision"].default == "fp32"
    assert (options["batchSize"].type, options["batchSize"].default, options["batchSize"].minimum,
            options["batchSize"].maximum) == (int, 8, 1, 256)
    assert (options["threads"].default, options["threads"].minimum, options["threads"].maximum) == (0, 0, 256)
    assert (options["threshold"].type, options["threshold"].default, options["threshold"].maximum) == (float, 0.0, 0.99)
    assert options["tta"].type is bool and options["tta"].default is False
    assert options["batchSize"].label == xml_parameter("batchSize").findtext("label")


def test_the_cli_parameters_are_those_of_the_xml_and_checked_against_it():
    options = read_cli_parameters(XML_FILE)
    declared = {p.findtext("name").strip(): p.tag for group in ElementTree.parse(XML_FILE).getroot().findall("parameters")
                for p in group if p.tag not in ("label", "description")}
    parameters = cli_parameters(options, "vtkMRMLScalarVolumeNode1", "vtkMRMLLabelMapVolumeNode1", "/tmp/s.seg.nrrd",
                                LUNG_MODEL, device="cpu", threads=2, batchSize=4, threshold=0.4, tta=True)
    assert set(parameters) <= set(declared)
    assert {"inputVolume", "outputLabelVolume", "outputSegmentation"} <= set(parameters)
    kinds = {"integer": int, "double": float, "boolean": bool}
    for name, value in parameters.items():
        assert type(value) is kinds.get(declared[name], str), name
    defaults = cli_parameters(options, "a", "b", "c.seg.nrrd")
    assert (defaults["device"], defaults["batchSize"], defaults["threads"], defaults["tta"]) == ("auto", 8, 0, False)
    assert defaults["modelFile"] == ""
    for bad in (dict(device="tpu"), dict(precision="fp8"), dict(threshold=1.0), dict(threshold=1.5), dict(threshold=-0.1), dict(batchSize=0), dict(batchSize=257),
                dict(threads=-1), dict(batchSize=2.5), dict(tta="yes"), dict(threads=True), dict(axis=1),
                dict(threshold=float("nan")), dict(threshold=10 ** 400), dict(batchSize=float("inf")),
                dict(threads=10 ** 400)):
        with pytest.raises(ValueError, match=list(bad)[0]):
            cli_parameters(options, "a", "b", "c.seg.nrrd", **bad)


def test_a_finished_run_says_what_happened():
    assert run_message("completed") == "Done."
    assert run_message("cancelled", "whatever was printed") == "Cancelled."
    error = "loading\nFocusNetSegmentation: /data/cut.fnm: truncated model file\n"
    assert run_message("failed", error) == "FocusNetSegmentation failed: loading\nFocusNetSegmentation: /data/cut.fnm: truncated model file"
    assert run_message("failed", "") == "FocusNetSegmentation failed without an error message."
    long_error = "\n".join("line %d" % i for i in range(20))
    assert run_message("failed", long_error).endswith("line 15\nline 16\nline 17\nline 18\nline 19")


class CliNode:
    """A stand-in for vtkMRMLCommandLineModuleNode at the end of a run, with Slicer's status values
    (Libs/MRML/CLI/vtkMRMLCommandLineModuleNode.h: Idle 0x00, Cancelled 0x08, Completed 0x20, ErrorsMask 0x40)."""
    Idle, Cancelled, Completed, CompletedWithErrors = 0x00, 0x08, 0x20, 0x20 | 0x40

    def __init__(self, status, error_text="", reasons=""):
        self.status, self.error_text, self.reasons = status, error_text, reasons

    def GetStatus(self):
        return self.status

    def GetErrorText(self):
        return self.error_text

    def GetParameterAsString(self, name):
        assert name == "qualityReasons"  # the XML's name (checked against the XML below)
        return self.reasons


@pytest.mark.parametrize("status, loads, message", [
    (CliNode.Completed, "segmentation", "Done."),
    (CliNode.Cancelled, None, "Cancelled."),
    (CliNode.CompletedWithErrors, None, "FocusNetSegmentation failed: FocusNetSegmentation: /m/cut.fnm: truncated"),
    (CliNode.Idle, None, "FocusNetSegmentation failed without an error message."),  # Slicer could not start it
])
def test_every_run_ends_with_a_message_and_leaves_neither_its_label_node_nor_its_folder(tmp_path, status, loads,
                                                                                         message):
    folder = tmp_path / "FocusNet-run"
    folder.mkdir()
    (folder / "FocusNet.seg.nrrd").write_bytes(b"partial")
    labels, volume = object(), object()
    scene = [volume, labels]
    error = "FocusNetSegmentation: /m/cut.fnm: truncated" if status == CliNode.CompletedWithErrors else ""
    result = end_run(CliNode(status, error), RunScratch(folder, labels, scene.remove), lambda: "segmentation")
    assert result == (loads, message)
    assert not folder.exists() and scene == [volume]


def test_a_completed_run_lists_the_quality_flags_the_module_returned(tmp_path):
    assert "qualityReasons" in [e.findtext("name") for e in ElementTree.parse(XML_FILE).iter("string")]
    reasons = "no-target: no Lung in any slice | out-of-distribution: modality MR, the model was trained on CT"
    folder = tmp_path / "FocusNet-run"
    folder.mkdir()
    result = end_run(CliNode(CliNode.Completed, reasons=reasons), RunScratch(folder, None, lambda node: None),
                     lambda: "segmentation")
    assert result == ("segmentation", "Done. Check the result:\nno-target: no Lung in any slice\n"
                                      "out-of-distribution: modality MR, the model was trained on CT")


def test_a_result_that_cannot_be_loaded_is_said_and_cleaned_up_too(tmp_path):
    def load():
        raise RuntimeError("the input volume was removed during the run")

    folder = tmp_path / "FocusNet-run"
    folder.mkdir()
    labels = object()
    scene = [labels]
    result = end_run(CliNode(CliNode.Completed), RunScratch(folder, labels, scene.remove), load)
    assert result == (None, "Loading the FocusNet segmentation failed: the input volume was removed during the run")
    assert not folder.exists() and scene == []


def test_a_scratch_is_released_once(tmp_path):
    folder = tmp_path / "FocusNet-run"
    folder.mkdir()
    removed = []
    scratch = RunScratch(folder, "labels", removed.append)
    scratch.release()
    scratch.release()  # a second end (a status event after the first) does nothing
    assert removed == ["labels"] and not folder.exists()


def test_the_folder_goes_even_when_the_node_cannot_be_removed(tmp_path):
    def refuse(node_id):
        raise RuntimeError("scene closed")

    folder = tmp_path / "FocusNet-run"
    folder.mkdir()
    with pytest.raises(RuntimeError):
        RunScratch(folder, "vtkMRMLLabelMapVolumeNode3", refuse).release()
    assert not folder.exists()


def module_tree():
    return ast.parse((MODULE_DIR / "FocusNet.py").read_text())


def test_the_parameter_node_holds_the_xmls_options_the_volume_and_the_model():
    node_class = next(n for n in module_tree().body if isinstance(n, ast.ClassDef) and n.name == "FocusNetParameterNode")
    assert [ast.unparse(d) for d in node_class.decorator_list] == ["parameterNodeWrapper"]
    fields = [n.target.id for n in node_class.body if isinstance(n, ast.AnnAssign)]
    assert fields == ["inputVolume", "modelFile"] + list(read_cli_parameters(XML_FILE))
    widgets = ElementTree.parse(MODULE_DIR / "Resources/UI/FocusNet.ui").getroot()
    connected = {w.find("property[@name='SlicerParameterName']/string").text for w in widgets.iter("widget")
                 if w.find("property[@name='SlicerParameterName']") is not None}
    assert connected == set(fields) - {"modelFile"}  # the model path is kept in step by hand (a str, not a Path)


def test_the_module_loads_without_the_cli_module():
    tree = module_tree()
    dependencies = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    and ast.unparse(n.targets[0]) == "self.parent.dependencies"]
    assert [ast.unparse(n.value) for n in dependencies] == ["[]"]
    assert 'hasattr(slicer.modules, CLI_MODULE.lower())' in ast.unparse(tree)


def defined_names(path):
    """The names a Python file of Slicer's package defines at its top level (functions, classes, assignments,
    imports) or lists in __all__."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def test_everything_the_module_uses_of_slicers_python_package_exists_there():
    tree = module_tree()
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = ast.unparse(node)
            if re.fullmatch(r"slicer(\.\w+)+", chain):
                used.add(chain)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "slicer":
            used.update("%s.%s" % (node.module, a.name) for a in node.names)
    documented = set(re.findall(r"py:attribute:: (\w+)", (SLICER_PYTHON / "__init__.py").read_text()))
    # Classes of Slicer's wrapped C++ libraries (MRML), which slicer/__init__.py loads from its kits at run time:
    # not in the Python sources, so named here.
    wrapped = {"vtkMRMLScalarVolumeNode", "vtkMRMLCommandLineModuleNode"}
    checked = []
    for chain in sorted(used):
        parts = chain.split(".")
        if len(parts) >= 3 and (SLICER_PYTHON / (parts[1] + ".py")).is_file():
            assert parts[2] in defined_names(SLICER_PYTHON / (parts[1] + ".py")), chain
        elif len(parts) >= 3 and (SLICER_PYTHON / parts[1] / "__init__.py").is_file():
            package = SLICER_PYTHON / parts[1]
            exported = set().union(*(defined_names(p) for p in package.glob("*.py")))
            assert parts[2] in exported, chain
        elif parts[1] in documented or parts[1] in wrapped:
            continue
        else:
            assert (SLICER_PYTHON / (parts[1] + ".py")).is_file() or (SLICER_PYTHON / parts[1]).is_dir(), chain
        checked.append(chain)
    assert {"slicer.util.loadUI", "slicer.util.loadSegmentation", "slicer.cli.run",
            "slicer.parameterNodeWrapper.parameterNodeWrapper"} <= set(checked)
