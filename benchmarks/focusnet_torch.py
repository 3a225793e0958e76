"""FocusNet written in PyTorch: the anchor the C++ engine is measured against (benchmarks/cpu-speed.sh).

The same layers, shapes and parameter names as core/src/focusnetNetworks.cxx, so that a FocusNet model file's weights
load into it (load_model_file reads the file format of core/include/focusnetModel.h with numpy, no LibTorch needed)
and both compute the same function. `python3 focusnet_torch.py MODEL.fnm` checks that: it prints the parameter
count and the multiply-accumulates per slice, which `focusnet info` prints for the same file.
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # Keras' defaults, as the C++ network


class ConvLayer(nn.Module):
    """A convolution with "same" padding; even kernels pad bottom/right only, as Keras does."""

    def __init__(self, cin, cout, kernel, stride=1, bias=True):
        super().__init__()
        self.pad = kernel - 1 if kernel % 2 == 0 else 0
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=0 if kernel % 2 == 0 else kernel // 2,
                              bias=bias)

    def forward(self, x):
        return self.conv(F.pad(x, (0, self.pad, 0, self.pad)) if self.pad else x)


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1, self.norm, self.conv2 = ConvLayer(cin, cout, 3), batch_norm(cout), ConvLayer(cout, cout, 3)
        self.shortcut = ConvLayer(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        y = self.conv2(torch.relu(self.norm(self.conv1(x))))
        return y + (self.shortcut(x) if self.shortcut is not None else x)


class DownsamplingBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1, self.conv1 = batch_norm(cin), ConvLayer(cin, cout, 3, 2)
        self.norm2, self.conv2 = batch_norm(cout), ConvLayer(cout, cout, 3)
        self.shortcut = ConvLayer(cin, cout, 1, 2)

    def forward(self, x):
        y = self.conv1(torch.relu(self.norm1(x)))
        return self.conv2(torch.relu(self.norm2(y))) + self.shortcut(x)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels):
        super().__init__()
        reduced = max(1, channels // 16)
        self.reduce, self.expand = nn.Linear(channels, reduced, bias=False), nn.Linear(reduced, channels, bias=False)

    def forward(self, x):
        s = torch.sigmoid(self.expand(torch.relu(self.reduce(x.mean((2, 3))))))
        return x * s[:, :, None, None]


class Upsampling(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = ConvLayer(cin, cout, 2)

    def forward(self, x):
        return torch.relu(self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest")))


class Decoder(nn.Module):
    def __init__(self, deeper, skip, cout):
        super().__init__()
        self.up, self.block = Upsampling(deeper, cout), ResidualBlock(cout + skip, cout)

    def forward(self, deeper, skip):
        return self.block(torch.cat((self.up(deeper), skip), 1))


class Encoder(nn.Module):
    def __init__(self, cin, cout, gated):
        super().__init__()
        self.block, self.se1 = ResidualBlock(cin, cout), SqueezeExcitation(cout)
        self.se2 = SqueezeExcitation(cout) if gated else None
        self.down = DownsamplingBlock(cout, cout)

    def forward(self, x, gate=None):
        y = self.se1(self.block(x))
        if gate is not None:
            y = self.se2(y * torch.sigmoid(gate))
        return self.down(y)


class FocusNet(nn.Module):
    """Dropout is left out: it does nothing in inference."""

    def __init__(self, width=1.0, input_channels=1, attention_stem_width=24, minimum_channels=1, **_):
        super().__init__()
        c = lambda channels: max(max(1, minimum_channels), int(np.floor(channels * width + 0.5)))  # noqa: E731
        a0 = c(attention_stem_width)
        self.attention_stem = ConvLayer(input_channels, a0, 3, bias=False)
        self.attention_stem_norm = batch_norm(a0)
        self.attention_down1 = DownsamplingBlock(a0, c(32))
        self.attention_block2 = ResidualBlock(c(32), c(64))
        self.attention_down2 = DownsamplingBlock(c(64), c(64))
        self.attention_block3 = ResidualBlock(c(64), c(128))
        self.attention_down3 = DownsamplingBlock(c(128), c(128))
        self.attention_block4 = ResidualBlock(c(128), c(256))
        self.attention_up5 = Decoder(c(256), c(128), c(256))
        self.attention_up6 = Decoder(c(256), c(64), c(128))
        self.attention_up7 = Decoder(c(128), a0, c(64))
        self.main_stem = ConvLayer(input_channels, c(64), 7)
        self.main_stem_norm = batch_norm(c(64))
        self.level1 = Encoder(c(64), c(64), True)
        self.level2 = Encoder(c(64), c(128), True)
        self.level3 = Encoder(c(128), c(256), True)
        self.level4 = Encoder(c(256), c(512), False)
        self.decoder1 = Decoder(c(512), c(256), c(256))
        self.decoder2 = Decoder(c(256), c(128), c(128))
        self.decoder3 = Decoder(c(128), c(64), c(64))
        self.decoder4 = Decoder(c(64), c(64), c(32))
        self.refine1 = ResidualBlock(c(32), c(16))
        self.refine2 = ResidualBlock(c(16), c(4))
        self.head = ConvLayer(c(4), 1, 1)

    def forward(self, x):
        a0 = F.leaky_relu(self.attention_stem_norm(self.attention_stem(x)), 0.3)
        a2 = self.attention_block2(self.attention_down1(a0))
        a3 = self.attention_block3(self.attention_down2(a2))
        a4 = self.attention_block4(self.attention_down3(a3))
        gate5 = self.attention_up5(a4, a3)
        gate6 = self.attention_up6(gate5, a2)
        gate7 = self.attention_up7(gate6, a0)
        m0 = torch.relu(self.main_stem_norm(self.main_stem(x)))
        b1 = self.level1(m0, gate7)
        b2 = self.level2(b1, gate6)
        b3 = self.level3(b2, gate5)
        b4 = self.level4(b3)
        d = self.decoder1(b4, b3)
        d = self.decoder2(d, b2)
        d = self.decoder3(d, b1)
        d = self.decoder4(d, m0)
        return self.head(self.refine2(self.refine1(d)))


def state_name(name):
    """The C++ parameter name of a PyTorch one: decoders and encoders are flat there (decoder1_up.conv...)."""
    for prefix in ("attention_up5", "attention_up6", "attention_up7", "decoder1", "decoder2", "decoder3",
                   "decoder4", "level1", "level2", "level3", "level4"):
        if name.startswith(prefix + "."):
            return prefix + "_" + name[len(prefix) + 1:]
    return name


def load_model_file(path):
    """(architecture dict, {C++ name: numpy array}) of a FocusNet model file."""
    data = open(path, "rb").read()
    if data[:8] != b"FOCUSNET":
        raise ValueError(f"{path}: not a FocusNet model file")
    header_bytes = struct.unpack_from("<Q", data, 12)[0]
    header = json.loads(data[20:20 + header_bytes])
    payload = data[20 + header_bytes:]
    tensors = {}
    for t in header["tensors"]:
        dtype = {"float32": np.float32, "int64": np.int64}[t["dtype"]]
        tensors[t["name"]] = np.frombuffer(payload, dtype, int(np.prod(t["shape"])), t["offset"]).reshape(t["shape"])
    return header["metadata"]["architecture"], tensors


def build(path_or_width):
    """A FocusNet in eval mode: a model file's architecture and weights, or a width with fresh weights."""
    try:
        width = float(path_or_width)
        network = FocusNet(width=width)
    except ValueError:
        architecture, tensors = load_model_file(path_or_width)
        if architecture["name"] != "focusnet":
            raise ValueError(f"{path_or_width}: {architecture['name']} is not FocusNet")
        network = FocusNet(**architecture)
        state = {name: torch.from_numpy(tensors[state_name(name)].copy()) for name in network.state_dict()}
        network.load_state_dict(state)
    return network.eval()


def multiply_accumulates(network, size=256):
    """Per slice of size x size, counted as the C++ Model::MultiplyAccumulatesPerSlice counts them."""
    total = [0]
    hooks = [m.register_forward_hook(lambda m, i, o: total.__setitem__(0, total[0] + m.weight.numel() * o.shape[2] * o.shape[3]))
             for m in network.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(lambda m, i, o: total.__setitem__(0, total[0] + m.weight.numel()))
              for m in network.modules() if isinstance(m, nn.Linear)]
    with torch.inference_mode():
        network(torch.zeros(1, network.main_stem.conv.in_channels, size, size))
    for h in hooks:
        h.remove()
    return total[0]


if __name__ == "__main__":
    net = build(sys.argv[1])
    print(f"parameters: {sum(p.numel() for p in net.parameters()):,}")
    print(f"MACs per slice: {multiply_accumulates(net):,}")
