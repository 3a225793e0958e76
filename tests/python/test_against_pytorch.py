"""The C++ network against the same network written in PyTorch (benchmarks/focusnet_torch.py, loading the same
model file), an oracle independent of FocusNet's LibTorch code: channel layout (RGB interleaved in, planar for the
network), normalisation, every layer and the sigmoid. Images are given at the model's input size, so that no
resampling enters. Needs Debian's python3-torch.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import focusnet

torch = pytest.importorskip("torch")
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
sys.path.insert(0, str(SOURCE_DIR / "benchmarks"))
from focusnet_torch import build  # noqa: E402
from focusnet_test_files import read_nrrd, write_nrrd  # noqa: E402


def twin_probabilities(model_file, image, mean, std):
    """image: (height, width[, channels]) at the model's input size."""
    planes = image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    x = (planes - np.asarray(mean, np.float64)[:, None, None]) / np.asarray(std, np.float64)[:, None, None]
    with torch.inference_mode():
        return torch.sigmoid(build(str(model_file))(torch.from_numpy(x.astype(np.float32))[None]))[0, 0].numpy()


def test_rgb_channels_reach_the_network_in_their_order(tmp_path):
    model_file = tmp_path / "rgb.fnm"
    subprocess.run([os.environ["FOCUSNET_EXECUTABLE"], "init", "focusnet", str(model_file), "--width", "0.125",
                    "--size", "64", "--min-channels", "4", "--in-channels", "3", "--seed", "2"], check=True)
    rng = np.random.default_rng(0)
    image = np.zeros((64, 64, 3), np.float32)  # three different channels
    image[..., 0] = rng.random((64, 64)) * 255
    image[:32, :, 1] = 200
    image[:, :20, 2] = 90
    _, probabilities = focusnet.Model(model_file, threads=2).segment(image, probabilities=True)
    expected = twin_probabilities(model_file, image, [0, 0, 0], [1, 1, 1])
    # Untrained weights on unnormalised 0..255 values: large activations, so float rounding shows more than with the
    # trained model below. The C++ upsampling sums kernel taps the twin applies one by one (same maths, another order
    # of float additions): 3.1e-4 here, 6e-5 before; channels in the wrong order differ by more than 0.1.
    np.testing.assert_allclose(probabilities, expected, atol=1e-3)
    # The comparison can tell: the channels in another order give another map.
    reversed_channels = twin_probabilities(model_file, np.ascontiguousarray(image[..., ::-1]), [0, 0, 0], [1, 1, 1])
    assert np.abs(probabilities - reversed_channels).max() > 0.1


def test_the_default_model_on_a_ct_slice_is_the_pytorch_twins(tmp_path):
    model_file = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
    model = focusnet.Model(model_file, threads=2)
    image, *_ = focusnet.read_image(SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif")
    image = np.ascontiguousarray(image[::2, ::2])  # 256 x 256: the model's input size
    normalization = model.metadata["normalization"]
    _, probabilities = model.segment(image, probabilities=True)
    expected = twin_probabilities(model_file, image, normalization["mean"], normalization["std"])
    np.testing.assert_allclose(probabilities, expected, atol=2e-4)
    assert 0.2 < (expected > 0.5).mean() < 0.5  # lungs, not an empty or full map


def test_an_int16_volume_is_segmented_as_read_like_the_pytorch_twin(tmp_path):
    """`focusnet segment` feeds 16-bit signed volumes (CT in HU) to the filter as read, without a float copy: the
    labels of each slice must still be the twin's thresholded probabilities."""
    model_file = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
    normalization = focusnet.Model(model_file).metadata["normalization"]
    image, *_ = focusnet.read_image(SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif")
    slice_ = image[::2, ::2]  # 256 x 256: the model's input size, so no resampling enters
    volume = np.stack([slice_, slice_[:, ::-1], slice_[::-1]]).astype(np.int16)
    assert np.array_equal(volume[0], slice_)  # the slices hold whole HU values
    volume_file = tmp_path / "ct.nrrd"
    write_nrrd(volume_file, volume, spacing=(1.4, 1.4, 2.5))
    labels_file = tmp_path / "labels.nrrd"
    subprocess.run([os.environ["FOCUSNET_EXECUTABLE"], "segment", str(volume_file), str(labels_file), "--model",
                    str(model_file), "--threads", "2", "-q"], check=True)
    labels = read_nrrd(labels_file)
    assert labels.shape == volume.shape
    for k in range(volume.shape[0]):
        expected = twin_probabilities(model_file, volume[k].astype(np.float32), normalization["mean"],
                                      normalization["std"])
        undecided = np.abs(expected - 0.5) < 1e-3  # float rounding may tip these either way
        assert np.array_equal((labels[k] != 0)[~undecided], (expected > 0.5)[~undecided]), k
        assert 0.2 < (expected > 0.5).mean() < 0.5
