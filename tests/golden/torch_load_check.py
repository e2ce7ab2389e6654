"""tests/golden/torch_load_check.py — load an lhost checkpoint into the tutorial's PyTorch model
with load_state_dict and check that PyTorch predicts what `lhost predict` wrote. A checkpoint of
another model (examples/resnet.yaml: batchnorm, residual blocks) loads into the module that
lh_torch.py builds from the checkpoint's own model_spec, with its buffers (running statistics,
num_batches_tracked) as well, and is run in eval() mode.

  python3 tests/golden/torch_load_check.py CKPT DATA_DIR PRED_CSV [N]

N: the prediction file holds the first N test samples only (`lhost predict` under
limit_predict_batches); without it, it must hold all of them.

The safetensors file is read by hand (8-byte header length, JSON header, raw little-endian
tensors) so no extra package is needed. Exits non-zero on any mismatch.
"""
import gzip, json, os, struct, sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lh_torch import LhostModel  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64,
              "U8": np.uint8, "U64": np.uint64}[info["dtype"]]
        out[name] = np.frombuffer(raw[base + b:base + e], dtype=dt).reshape(info["shape"])
    return out, header.get("__metadata__", {})


def block(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class Modelo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.fc = block(1, 64), block(64, 128), nn.Linear(128 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(self.conv2(self.conv1(x)).view(x.shape[0], -1))


def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    ckpt, data, pred_csv = sys.argv[1:4]
    first = int(sys.argv[4]) if len(sys.argv) > 4 else None
    tensors, meta = read_safetensors(ckpt)
    model = Modelo()
    if not set(model.state_dict().keys()) <= set(tensors.keys()):
        model = LhostModel(json.loads(meta["model_spec"]))
        print("model from the checkpoint's spec: %d state_dict entries" % len(model.state_dict()))
    names = set(model.state_dict().keys())
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if k in names}
    model.load_state_dict(state, strict=True)  # every PyTorch name must be in the checkpoint
    model.eval()
    hp = json.loads(meta["hparams"])
    mean, std = float(hp["mean"]), float(hp["std"])
    x = read_idx(os.path.join(data, "t10k-images-idx3-ubyte.gz"))
    x = (torch.from_numpy(x.copy()).float().unsqueeze(1) / 255 - mean) / std
    rows = np.loadtxt(pred_csv, delimiter=",", skiprows=1, ndmin=2)
    if len(rows) != (first if first is not None else len(x)):
        sys.exit(f"FAIL: {pred_csv} has {len(rows)} rows, expected "
                 f"{first if first is not None else len(x)}")
    x = x[:len(rows)]
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 500]) for i in range(0, len(x), 500)]).numpy()
    ours_pred, ours_logits = rows[:, 2].astype(int), rows[:, 3:]
    torch_pred = logits.argmax(1)
    diff = np.abs(ours_logits - logits)
    worst = np.unravel_index(diff.argmax(), diff.shape)
    print(f"samples {len(x)}; predictions equal: {(ours_pred == torch_pred).sum()}; "
          f"worst logit difference {diff.max():.3g} at sample {worst[0]} class {worst[1]}")
    if not (ours_pred == torch_pred).all():
        sys.exit("FAIL: predictions differ")
    if diff.max() > 1e-3 * max(1.0, np.abs(logits).max()):
        sys.exit("FAIL: logits differ beyond tolerance")
    print("PASS")


if __name__ == "__main__":
    main()
