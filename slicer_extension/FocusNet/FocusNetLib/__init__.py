"""The parts of the FocusNet scripted module that need no Slicer: reading a model file's header in plain Python (no
LibTorch in Slicer's Python) and building the FocusNetSegmentation CLI module's parameters."""
import json
import struct
from pathlib import Path

MAGIC = b"FOCUSNET"
NEWEST_FORMAT = 1


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
            text = file.read(length)
    except OSError as error:
        raise ModelFileError("%s: cannot read the model file (%s)" % (path, error.strerror)) from error
    if len(text) < length:
        raise ModelFileError("%s: truncated model file (header runs past the end of the file)" % path)
    try:
        header = json.loads(text)
        header["metadata"]["label"]["name"]
    except (ValueError, KeyError, TypeError) as error:
        raise ModelFileError("%s: corrupt model file header" % path) from error
    return header


def describe_model(header):
    """A few lines for the module's panel: the label, the network and how it was trained."""
    metadata = header["metadata"]
    label, architecture = metadata["label"], metadata["architecture"]
    provenance = metadata.get("provenance", {})
    if isinstance(provenance, str):
        provenance = json.loads(provenance or "{}")
    code = label.get("type", {})
    lines = [
        "Segments: %s (label %d, %s %s \"%s\")" % (label["name"], label.get("value", 1), code.get("scheme", ""),
                                                   code.get("value", ""), code.get("meaning", "")),
        "Network: %s, width %g, %d input channel(s), %d x %d input" % (
            architecture["name"], architecture.get("width", 1.0), architecture.get("input_channels", 1),
            metadata.get("input_size", 0), metadata.get("input_size", 0)),
    ]
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


def cli_parameters(input_volume, output_label_volume, output_segmentation, model_file="", device="auto", threads=0,
                   batch_size=8, threshold=0.0, tta=False):
    """The parameters of the FocusNetSegmentation CLI module for slicer.cli.run, by the names in its XML."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError("device must be auto, cpu or cuda, not %r" % device)
    if not 0.0 <= threshold < 1.0:
        raise ValueError("threshold must lie in [0, 1) (0: the model file's), not %r" % threshold)
    if batch_size < 1 or threads < 0:
        raise ValueError("batch_size must be at least 1 and threads not negative")
    return {
        "inputVolume": input_volume,
        "outputLabelVolume": output_label_volume,
        "outputSegmentation": str(output_segmentation),
        "modelFile": str(model_file or ""),
        "device": device,
        "threads": int(threads),
        "batchSize": int(batch_size),
        "threshold": float(threshold),
        "tta": bool(tta),
    }
