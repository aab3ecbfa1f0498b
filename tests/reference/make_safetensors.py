#!/usr/bin/python3
"""Writes the state-dict fixtures of tests/test_state_dict.c:

  tests/fixtures/state_dict_model.safetensors  a small torch model's state_dict
      (conv, batch norm with an int64 num_batches_tracked, linear) in the
      safetensors format, written by hand (no safetensors package here):
      8-byte little-endian header length, JSON header padded with spaces to
      8 bytes, raw little-endian tensor data in state_dict order;
  tests/fixtures/state_dict_model.json  a fixed input and the model's
      eval-mode output on it.

Run: /usr/bin/python3 tests/reference/make_safetensors.py
"""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
DTYPES = {torch.float32: "F32", torch.int32: "I32", torch.uint8: "U8", torch.int64: "I64"}


class Net(nn.Module):
    """Mirrored in C by build_model() in tests/test_state_dict.c."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def save_safetensors(path, tensors, metadata=None):
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def tensor_json(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.flatten().tolist()]}


def main():
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():  # non-trivial affine parameters
        net.bn1.weight.uniform_(0.5, 1.5)
        net.bn1.bias.uniform_(-0.5, 0.5)
    net.train()
    with torch.no_grad():  # three batches of running statistics
        for _ in range(3):
            net(torch.randn(4, 3, 8, 8) * 2 + 0.5)
    assert net.bn1.num_batches_tracked.item() == 3
    net.eval()
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    with torch.no_grad():
        y = net(x)
    sd = net.state_dict()
    assert sd["bn1.num_batches_tracked"].dtype == torch.int64
    save_safetensors(os.path.join(FIXTURES, "state_dict_model.safetensors"), sd,
                     {"format": "pt", "source": "tests/reference/make_safetensors.py"})
    with open(os.path.join(FIXTURES, "state_dict_model.json"), "w") as f:
        json.dump({"names": list(sd.keys()), "num_batches_tracked": 3,
                   "input": tensor_json(x), "output": tensor_json(y)}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
