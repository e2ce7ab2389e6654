#!/usr/bin/env python3
"""tests/golden/gen_layers_ref.py — writes tests/golden/layers_ref.safetensors, the PyTorch
reference that tests/unit/test_layers_ref.c runs lhost's model against in-process.

One small net holds every layer kind added after the first six, built from its lhost spec by
lh_torch.py (so the state_dict names are the ones lhost must use):
  stem conv2d -> batchnorm2d -> relu -> an identity residual block (conv2d, batchnorm2d, gelu,
  conv2d) -> silu -> a downsampling block with a 1x1 projection (conv2d stride 2, batchnorm2d,
  tanh) -> adaptive_avgpool2d 3 -> sigmoid -> avgpool2d 2/1 -> global_avgpool2d -> linear ->
  batchnorm1d -> leaky_relu 0.1 -> linear (5 classes), on 2x8x8 inputs, batches of 6.
The file holds the YAML (metadata "yaml") and the planned spec JSON ("spec"), torch's
state_dict keys in order ("keys"), the weights ("init.<param>", batchnorm's weight and bias
moved off 1 and 0 so they matter), three batches x1..x3 (F32) and targets t1 (I32), and what
torch computed in float32:
  step 1, train(): logits1, loss1, every gradient ("grad.<param>") and the buffers after it
    ("step1.<buffer>", num_batches_tracked as I64);
  step 2, train(), forward only on x2: the buffers again ("step2.<buffer>");
  eval() on x3: logits3 (running statistics in use).
Run with Debian's torch: /usr/bin/python3 tests/golden/gen_layers_ref.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_safetensors import check, write  # noqa: E402
from lh_torch import LhostModel  # noqa: E402

YAML = """model:
  input_shape: [2, 8, 8]
  layers:
    - {type: conv2d, name: stem, out_channels: 4, kernel_size: 3, padding: 1}
    - {type: batchnorm2d, name: bn}
    - relu
    - name: block1
      residual:
        - {type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
        - batchnorm2d
        - gelu
        - {type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
    - silu
    - name: down
      residual:
        - {type: conv2d, out_channels: 6, kernel_size: 3, padding: 1, stride: 2}
        - {type: batchnorm2d, momentum: 0.2, eps: 0.001}
        - tanh
    - {type: adaptive_avgpool2d, output_size: 3}
    - sigmoid
    - {type: avgpool2d, kernel_size: 2, stride: 1}
    - global_avgpool2d
    - {type: linear, name: fc1, out_features: 8}
    - {type: batchnorm1d, name: bn1}
    - {type: leaky_relu, negative_slope: 0.1}
    - {type: linear, name: fc, out_features: 5}
"""


def conv(name, i, o, stride=1):
    return {"type": "conv2d", "name": name, "in_channels": i, "out_channels": o,
            "kernel_size": 3, "stride": stride, "padding": 1}


def bn(t, name, c, momentum=0.1, eps=1e-5):
    return {"type": t, "name": name, "num_features": c, "momentum": momentum, "eps": eps}


# The spec lhost plans from YAML (inferred sizes filled in; default names from the YAML index).
SPEC = {"in_c": 2, "in_h": 8, "in_w": 8, "layers": [
    conv("stem", 2, 4), bn("batchnorm2d", "bn", 4), {"type": "relu", "name": "2"},
    conv("block1.body.0", 4, 4), bn("batchnorm2d", "block1.body.1", 4),
    {"type": "gelu", "name": "block1.body.2"}, conv("block1.body.3", 4, 4),
    {"type": "residual", "name": "block1", "span": 4},
    {"type": "silu", "name": "4"},
    conv("down.body.0", 4, 6, 2), bn("batchnorm2d", "down.body.1", 6, 0.2, 0.001),
    {"type": "tanh", "name": "down.body.2"},
    {"type": "residual", "name": "down", "span": 3},
    {"type": "adaptive_avgpool2d", "name": "6", "output_size": 3, "output_w": 3},
    {"type": "sigmoid", "name": "7"},
    {"type": "avgpool2d", "name": "8", "kernel_size": 2, "stride": 1},
    {"type": "global_avgpool2d", "name": "9"},
    {"type": "linear", "name": "fc1", "in_features": 6, "out_features": 8},
    bn("batchnorm1d", "bn1", 8),
    {"type": "leaky_relu", "name": "12", "negative_slope": 0.1},
    {"type": "linear", "name": "fc", "in_features": 8, "out_features": 5},
]}
BATCH, CLASSES = 6, 5


def f32(name, t):
    t = t.detach().contiguous().float()
    return (name, "F32", list(t.shape), t.flatten().tolist())


def main():
    torch.manual_seed(5)
    model = LhostModel(SPEC)
    with torch.no_grad():
        for name, p in model.named_parameters():
            mod = name.rsplit(".", 1)[0]
            if any(l["name"] == mod and l["type"].startswith("batchnorm") for l in SPEC["layers"]):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape))
    keys = list(model.state_dict().keys())
    tensors = [f32("init." + n, p) for n, p in model.named_parameters()]
    xs = [torch.randn(BATCH, 2, 8, 8) * 1.5 + 0.3 for _ in range(3)]
    t1 = torch.tensor([i % CLASSES for i in range(BATCH)], dtype=torch.int32)
    tensors += [f32("x%d" % (i + 1), x) for i, x in enumerate(xs)]
    tensors.append(("t1", "I32", [BATCH], t1.tolist()))

    def buffers(prefix):
        out = []
        for n, b in model.named_buffers():
            if n.endswith("num_batches_tracked"):
                out.append((prefix + n, "I64", [], [int(b.item())]))
            else:
                out.append(f32(prefix + n, b))
        return out

    model.train()
    logits = model(xs[0])
    loss = F.cross_entropy(logits, t1.long())
    loss.backward()
    tensors += [f32("logits1", logits), f32("loss1", loss.reshape([]))]
    tensors += [f32("grad." + n, p.grad) for n, p in model.named_parameters()]
    tensors += buffers("step1.")
    with torch.no_grad():
        model(xs[1])
    tensors += buffers("step2.")
    model.eval()
    with torch.no_grad():
        tensors.append(f32("logits3", model(xs[2])))
    meta = {"yaml": YAML, "spec": json.dumps(SPEC), "keys": json.dumps(keys)}
    path = os.path.join(HERE, "layers_ref.safetensors")
    write(path, tensors, meta)
    check(path)
    print("wrote %s: %d tensors, loss %.6f" % (path, len(tensors), loss.item()))


if __name__ == "__main__":
    main()
