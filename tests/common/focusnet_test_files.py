"""Files the pytest suites write and read themselves, independently of FocusNet: NRRD by hand, pictures with Pillow,
DICOM series with pydicom.

On the Python path of the pytest folders that ctest runs (tests/CMakeLists.txt).
"""
import gzip
import re
from pathlib import Path

import numpy as np
from PIL import Image

NRRD_TYPES = {np.dtype(np.uint8): "uchar", np.dtype(np.int16): "short", np.dtype(np.float32): "float"}


def write_nrrd(path, array, spacing=None):
    """An array in numpy's (z, y, x) order as a raw little-endian NRRD; spacing in ITK's (x, y, z) order."""
    array = np.ascontiguousarray(array)
    header = "NRRD0004\ntype: %s\ndimension: %d\nsizes: %s\n" % (
        NRRD_TYPES[array.dtype], array.ndim, " ".join(str(s) for s in array.shape[::-1]))
    if spacing is not None:
        header += "spacings: %s\n" % " ".join(repr(float(s)) for s in spacing)
    header += "endian: little\nencoding: raw\n\n"
    Path(path).write_bytes(header.encode() + array.astype(array.dtype.newbyteorder("<")).tobytes())


def read_nrrd(path, dtype=np.uint8):
    """The voxels of a NRRD file with its data attached (raw or gzip), in numpy's (z, y, x) order."""
    data = Path(path).read_bytes()
    end = data.index(b"\n\n")
    fields = dict(line.split(": ", 1) for line in data[:end].decode().splitlines()[1:] if ": " in line)
    body = data[end + 2:]
    if fields["encoding"] in ("gzip", "gz"):
        body = gzip.decompress(body)
    return np.frombuffer(body, dtype).reshape([int(s) for s in fields["sizes"].split()][::-1])


def nrrd_spacing(path):
    """The voxel spacing of a NRRD file, (x, y, z): the lengths of its space directions, else its spacings."""
    data = Path(path).read_bytes()
    fields = dict(line.split(": ", 1) for line in data[:data.index(b"\n\n")].decode().splitlines()[1:] if ": " in line)
    if "space directions" in fields:
        vectors = re.findall(r"\(([^)]*)\)", fields["space directions"])
        return np.array([np.linalg.norm(np.array(v.split(","), dtype=float)) for v in vectors])
    return np.array(fields["spacings"].split(), dtype=float)


def write_disc_pairs(folder, count, size, seed, dtype=np.uint8, background=(60, 20), brighter=90):
    """count image/mask pairs of a bright disc on noise (size x size, PNG), and list.txt naming them."""
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(count):
        y, x = np.mgrid[:size, :size]
        cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
        radius = rng.integers(size // 8, size // 4)
        mask = (y - cy) ** 2 + (x - cx) ** 2 <= radius ** 2
        image = rng.normal(*background, (size, size)) + mask * brighter
        Image.fromarray(image.clip(0, np.iinfo(dtype).max).astype(dtype)).save(Path(folder) / ("image%02d.png" % k))
        Image.fromarray(mask.astype(np.uint8) * 255).save(Path(folder) / ("mask%02d.png" % k))
        lines.append("image%02d.png,mask%02d.png" % (k, k))
    (Path(folder) / "list.txt").write_text("\n".join(lines) + "\n")
    return Path(folder) / "list.txt"


def copy_dicom_series(source, target, count=None, series_uid=None, study_uid=None, edit=None):
    """The first count files of the DICOM series folder source (all with None), rewritten with pydicom into the new
    folder target: with the given Series (then SOP Instance UIDs of its own) and Study Instance UIDs, and edit(index,
    dataset) applied to each. Returns target."""
    import pydicom
    target = Path(target)
    target.mkdir(parents=True)
    for index, path in enumerate(sorted(Path(source).iterdir())[:count]):
        dataset = pydicom.dcmread(path)
        if series_uid is not None:
            dataset.SeriesInstanceUID = series_uid
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = "%s.%d" % (series_uid, index)
        if study_uid is not None:
            dataset.StudyInstanceUID = study_uid
        if edit:
            edit(index, dataset)
        dataset.save_as(target / path.name)
    return target
