"""The parts of the FocusNet scripted module that need no Slicer: the model file's header read in plain Python (no
LibTorch in Slicer's Python), the CLI module's parameters as its XML declares them, and what a finished run tells the
user and leaves behind."""
import json
import math
import os
import shutil
import stat
import struct
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import NamedTuple, Optional, Tuple

MAGIC = b"FOCUSNET"
NEWEST_FORMAT = 1
CLI_MODULE = "FocusNetSegmentation"


class ModelFileError(ValueError):
    """A file that is not a FocusNet model file Slicer can use; the message names the file."""


def read_model_header(path):
    """The JSON header of a model file (metadata, tensor table): magic, uint32 format version, uint64 header length,
    then the header, all little-endian. Raises ModelFileError naming the file."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            preamble = file.read(20)
            if len(preamble) < 8 or preamble[:8] != MAGIC:
                raise ModelFileError("%s: not a FocusNet model file (no FOCUSNET signature)" % path)
            if len(preamble) < 20:
                raise ModelFileError("%s: truncated model file" % path)
            version, length = struct.unpack("<IQ", preamble[8:20])
            if version == 0 or version > NEWEST_FORMAT:
                raise ModelFileError("%s: model file format version %d is newer than this module reads" % (path, version))
            if 20 + length > os.fstat(file.fileno()).st_size:
                raise ModelFileError("%s: truncated model file (header runs past the end of the file)" % path)
            text = file.read(length)
    except OSError as error:
        raise ModelFileError("%s: cannot read the model file (%s)" % (path, error.strerror)) from error
    try:
        header = json.loads(text)
        header["metadata"]["label"]["name"]
    except (ValueError, KeyError, TypeError) as error:
        raise ModelFileError("%s: corrupt model file header" % path) from error
    return header


def describe_model(header):
    """A few lines for the module's panel: the label, the network and how it was trained. Entries the file does not
    have are said to be missing."""
    metadata = header["metadata"]
    label = metadata["label"]
    architecture = metadata.get("architecture")
    provenance = metadata.get("provenance", {})
    if isinstance(provenance, str):
        try:
            provenance = json.loads(provenance or "{}")
        except ValueError:
            provenance = {}
    code = label.get("type", {})
    lines = ["Segments: %s (label %d, %s %s \"%s\")" % (label["name"], label.get("value", 1), code.get("scheme", ""),
                                                         code.get("value", ""), code.get("meaning", ""))]
    if isinstance(architecture, dict) and "name" in architecture:
        lines.append("Network: %s, width %g, %d input channel(s), %d x %d input" % (
            architecture["name"], architecture.get("width", 1.0), architecture.get("input_channels", 1),
            metadata.get("input_size", 0), metadata.get("input_size", 0)))
    else:
        lines.append("Network: not recorded in the model file (no architecture entry)")
    data, validation = provenance.get("data", {}), provenance.get("validation", {})
    trained = []
    if data.get("training_images"):
        trained.append("%d images (%d for validation)" % (data["training_images"], data.get("validation_images", 0)))
    if provenance.get("epoch"):
        trained.append("%d epochs" % provenance["epoch"])
    if "DI" in validation:
        trained.append("validation Dice %.4f" % validation["DI"])
    lines.append("Training: " + (", ".join(trained) if trained else "not recorded in the model file"))
    return "\n".join(lines)


class ModelDescriptions:
    """The panel's text for a model path, from the file's header read once per file: typing a path calls describe()
    at every keystroke, and a file is read again only when its size or modification time changed."""

    def __init__(self, reader=read_model_header):
        self._reader = reader
        self._cache = {}

    def describe(self, path):
        if not path:
            return "The default model installed with the extension (lung CT)."
        try:
            status = os.stat(path)
        except OSError:
            return "%s: no such file" % path
        if not stat.S_ISREG(status.st_mode):
            return "%s: not a file" % path
        key = (str(path), status.st_size, status.st_mtime_ns)
        if key not in self._cache:
            try:
                self._cache[key] = describe_model(self._reader(path))
            except ModelFileError as error:
                if isinstance(error.__cause__, OSError):
                    return str(error)  # e.g. no permission: asked again next time, not kept
                self._cache[key] = str(error)
        return self._cache[key]


class CliParameter(NamedTuple):
    """One option of the CLI module as its XML declares it."""
    name: str
    type: type
    default: object
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: Tuple[str, ...] = ()
    label: str = ""


_XML_TYPES = {"integer": int, "double": float, "float": float, "boolean": bool, "string-enumeration": str}


def _xml_value(kind, text):
    if kind is bool:
        return text.strip().lower() == "true"
    return kind(text.strip())


def read_cli_parameters(xml_file):
    """The CLI module's options (flagged scalar parameters the user sets) by name, in the XML's order, with their
    types, defaults, ranges and choices as the XML declares them."""
    parameters = {}
    root = ElementTree.parse(xml_file).getroot()
    for group in root.findall("parameters"):
        for element in group:
            kind = _XML_TYPES.get(element.tag)
            if kind is None or not (element.findtext("longflag") or element.findtext("flag")):
                continue
            name = element.findtext("name").strip()
            constraints = element.find("constraints")
            bounds = [None, None]
            if constraints is not None:
                bounds = [_xml_value(kind, constraints.findtext(b)) if constraints.findtext(b) else None
                          for b in ("minimum", "maximum")]
            parameters[name] = CliParameter(
                name, kind, _xml_value(kind, element.findtext("default") or ""), bounds[0], bounds[1],
                tuple(e.text.strip() for e in element.findall("element")), (element.findtext("label") or "").strip())
    return parameters


def cli_parameters(options, input_volume, output_label_volume, output_segmentation, model_file="", **values):
    """The parameters of the CLI module for slicer.cli.run: the input, the outputs, the model and the options given
    in values (by the XML's names, the others at their defaults), each checked against the XML's declaration."""
    unknown = set(values) - set(options)
    if unknown:
        raise ValueError("unknown FocusNetSegmentation options: %s (known: %s)" % (
            ", ".join(sorted(unknown)), ", ".join(options)))
    parameters = {
        "inputVolume": input_volume,
        "outputLabelVolume": output_label_volume,
        "outputSegmentation": str(output_segmentation),
        "modelFile": str(model_file or ""),
    }
    for name, option in options.items():
        parameters[name] = _checked(option, values.get(name, option.default))
    return parameters


def _checked(option, value):
    """value as the option's type, checked as its XML declares it: the type (no bool for a number), a finite number
    (a whole one for an integer), one of the choices, within the range. ValueError naming the option otherwise."""
    number = option.type in (int, float)
    if isinstance(value, bool) != (option.type is bool) or \
            not isinstance(value, (int, float) if number else option.type):
        raise ValueError("%s must be %s, not %r" % (option.name, option.type.__name__, value))
    if number:
        try:
            as_float = float(value)
        except OverflowError:  # an int beyond any float
            as_float = math.inf
        if not math.isfinite(as_float) or option.type is int and not as_float.is_integer():
            raise ValueError("%s must be a finite %s, not %r" % (option.name, option.type.__name__, value))
        value = option.type(value)
    if option.choices and value not in option.choices:
        raise ValueError("%s must be one of %s, not %r" % (option.name, ", ".join(option.choices), value))
    low = option.minimum if option.minimum is not None else value
    high = option.maximum if option.maximum is not None else value
    if not low <= value <= high:
        raise ValueError("%s must lie in [%s, %s], not %r" % (option.name, option.minimum, option.maximum, value))
    return value


def run_status(cli_node):
    """"completed", "cancelled" or "failed" for a CLI node (vtkMRMLCommandLineModuleNode) that is no longer busy:
    Completed, Cancelled, and the rest (CompletedWithErrors, or Idle when Slicer could not start the run)."""
    status = cli_node.GetStatus()
    if status == cli_node.Completed:
        return "completed"
    if status == cli_node.Cancelled:
        return "cancelled"
    return "failed"


def end_run(cli_node, scratch, load):
    """What the panel shows when a run has ended: (load()'s result for a completed run, else None; the message).
    Whatever the outcome, and also when load raises, the run's scratch (RunScratch or None) is released."""
    try:
        status = run_status(cli_node)
        if status != "completed":
            return None, run_message(status, cli_node.GetErrorText())
        return load(), run_message(status, reasons=cli_node.GetParameterAsString("qualityReasons"))
    except Exception as error:
        return None, "Loading the FocusNet segmentation failed: %s" % error
    finally:
        if scratch is not None:
            scratch.release()


def run_message(status, error_text="", reasons=""):
    """What the panel says when a run has ended: status is "completed", "cancelled" or "failed"; a failed run shows
    the CLI module's error output (its last lines), or says there was none; a completed one the quality flags the CLI
    module returned (qualityReasons: "flag: reason | flag: reason"), one a line, for a reader to check."""
    if status == "completed":
        flags = [flag.strip() for flag in (reasons or "").split(" | ") if flag.strip()]
        return "Done." if not flags else "Done. Check the result:\n" + "\n".join(flags)
    if status == "cancelled":
        return "Cancelled."
    lines = [line for line in (error_text or "").splitlines() if line.strip()]
    if not lines:
        return "%s failed without an error message." % CLI_MODULE
    return "%s failed: %s" % (CLI_MODULE, "\n".join(lines[-5:]))


class RunScratch:
    """What one run makes besides its result, the temporary folder and the label volume node, removed once when the
    run ends, whatever its outcome: remove_node(label_node) removes the node from the scene if it is still there."""

    def __init__(self, folder, label_node, remove_node):
        self.folder = Path(folder)
        self.label_node = label_node
        self._remove_node = remove_node
        self._released = False

    def release(self):
        if self._released:
            return
        self._released = True
        try:
            if self.label_node is not None:
                self._remove_node(self.label_node)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
