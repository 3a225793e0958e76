# Made from focusnet.pyi.in and core/include/focusnetOptions.h by focusnet-options: edit those.
"""FocusNet segmentation (Kaul et al., ISBI 2019) for numpy arrays.

The same network, model files and results as the focusnet command and itk::FocusNetImageFilter.
"""
from os import PathLike
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, "PathLike[str]"]

class Model:
    """A FocusNet (or U-Net) model file, loaded once and run on arrays or files."""

    def __init__(
        self,
        path: Optional[_Path] = None,
        device: str = "auto",
        threads: int = 0,
        batch_size: int = 8,
        precision: str = "fp32",
    ) -> None:
        """Loads a model file; None takes $FOCUSNET_MODEL, else the installed default model.

        device: auto, cpu, cuda or cuda:N; where the network runs (auto: a GPU when there is one).
        threads: [0, 256], LibTorch threads (0: all cores).
        batch_size: [1, 256], slices per forward pass.
        precision: the network's number format: fp32; bf16 on CPUs with AVX512-BF16 or AMX and on GPUs; fp16 on GPUs (focusnet.native_bf16() says whether this CPU runs bf16).
        Raises FileNotFoundError for a missing file, OSError for one that is not a valid model file, and
        ValueError for an unknown device, bad threads / batch_size or a precision this machine cannot run.
        """
    @property
    def metadata(self) -> Dict[str, Any]: ...
    @property
    def label(self) -> Dict[str, Any]: ...
    @property
    def parameter_count(self) -> int: ...
    @property
    def device(self) -> str: ...
    @property
    def path(self) -> str: ...
    def segment(
        self,
        array: npt.ArrayLike,
        spacing: Optional[Sequence[float]] = None,
        origin: Optional[Sequence[float]] = None,
        direction: Optional[npt.ArrayLike] = None,
        axis: Optional[int] = None,
        threshold: Optional[float] = None,
        tta: bool = False,
        probabilities: bool = False,
    ) -> Union[npt.NDArray[np.uint8], Tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]]:
        """Segments a 2D (rows, cols) or 3D (slices, rows, cols) array, gray or with 3 RGB channels last.

        Index order is ITK's numpy order (z, y, x); spacing, origin and direction are in ITK's x, y, z order.
        axis is the numpy axis slices are taken across (None: 0).
        threshold: (0, 1); None: the model file's.
        tta: average over the mirror images the model was trained on (up to 3x slower).
        Returns the uint8 labels, or (labels, probabilities) with probabilities=True. Raises ValueError for a bad shape, dtype or argument.
        """
    def segment_file(
        self,
        input: _Path,
        output: _Path,
        *,
        series_uid: str = "",
        probabilities: Optional[_Path] = None,
        overlay: Optional[_Path] = None,
        dicom_seg: Optional[_Path] = None,
        keep_empty_frames: bool = False,
        overwrite: bool = False,
        tta: bool = False,
        threshold: Optional[float] = None,
        axis: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Segments an image file or DICOM series folder as `focusnet segment` does.

        probabilities, overlay and dicom_seg name files to write as well. tta, threshold and axis are checked as in
        segment(): ValueError for a threshold outside (0, 1) or an axis other than 0, 1, 2.
        Returns {'slices', 'label_voxels', 'label_volume_mm3', 'quality': {signal: value}, 'flags': {flag: reason}}
        (docs/quality-control.md).
        """
    def hold_threads(self) -> "ThreadCountHold":
        """A context manager for loops of calls: inside it LibTorch keeps this model's thread count instead of each
        call setting it and giving the process's count back (which costs LibTorch 20-40 ms a call on a small
        machine); the process's count comes back at its end.
        """

class ThreadCountHold:
    """Model.hold_threads()'s context manager."""

    def __enter__(self) -> "ThreadCountHold": ...
    def __exit__(self, *exception: Any) -> bool: ...

def native_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX), where Model(precision='bf16') runs."""

def read_image(
    path: _Path, series_uid: str = ""
) -> Tuple[npt.NDArray[np.float32], Tuple[float, ...], Tuple[float, ...], list]:
    """Reads an image file or DICOM series folder as FocusNet does: (array, spacing, origin, direction).

    The array is float32 in numpy's (z, y, x[, channel]) order, the geometry in ITK's x, y, z order, ready for
    Model.segment(*read_image(path)). Raises FileNotFoundError or OSError naming the file.
    """

def evaluate(labels: npt.ArrayLike, reference: npt.ArrayLike) -> Dict[str, float]:
    """Dice, Jaccard, accuracy, sensitivity, specificity and pixel counts of labels against reference."""
