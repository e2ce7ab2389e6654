"""tests/parity/torch_parity.py — PyTorch's side of the step-for-step parity test.

Builds the tutorial's CNN (examples/seed.yaml: conv1 = Conv2d(1, 64, 3, padding=1) + ReLU +
MaxPool2d(2), conv2 = the same 64 -> 128, fc = Linear(6272, 10)) with PyTorch's default init
under torch.manual_seed(SEED), saves those initial weights as safetensors under its state_dict
names, then trains it with Adam(lr=1e-3) on Fashion-MNIST's training images in the dataset's
order (DataLoader(shuffle=False), batch 64), normalised as lhost's default for Fashion-MNIST
does ((p / 255 - 0.2860) / 0.3530), and writes every step's loss and the final weights.

    /usr/bin/python3 tests/parity/torch_parity.py            # rewrites the committed fixtures
    /usr/bin/python3 tests/parity/torch_parity.py --steps 200 --seed 0 --out DIR --data DIR

Writes OUT/init.safetensors (the state_dict before the first step: lhost's model.init_weights)
and OUT/torch_ref.safetensors (the state_dict after the last step, plus "loss", F64 [STEPS]:
loss.item() of each step; "loss_threads2", the same run again on two threads, which shows how
far PyTorch drifts from itself when only its summation order changes; and the run's settings
in __metadata__). test_parity.c reads both.

    /usr/bin/python3 tests/parity/torch_parity.py --seed S --val 2048 [--shuffle]

trains the same way (--shuffle: on a seeded random draw of the training set) and prints
val_acc on the first 2048 test images instead of writing files (bench/parity_seeds.sh).
The safetensors files are written by hand (struct + json) when the safetensors package is
absent, as Debian's python3-torch has none. Uses torch 1.13 (Debian's python3-torch); one
thread, so the reference does not depend on the machine's core count.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN, STD = 0.2860, 0.3530  # lhost's data.normalize: auto for a path containing "fashion"


class TutorialCNN(nn.Module):
    """The Lightning tutorial's model; its state_dict names are examples/seed.yaml's layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(128 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv2(self.conv1(x)), 1))


def read_idx(path):
    """An IDX file (gzip or plain) as a numpy array (torchvision's read_sn3_pascalvincent)."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data, prefix, count=None):
    """Images (N, 1, 28, 28) float32, normalised as lhost does, and labels (N) int64."""
    def pick(stem):
        for name in (stem + ".gz", stem):
            if os.path.exists(os.path.join(data, name)):
                return os.path.join(data, name)
        raise SystemExit("torch_parity: %s[.gz] not found in %s" % (stem, data))
    x = read_idx(pick(prefix + "-images-idx3-ubyte"))[:count]
    y = read_idx(pick(prefix + "-labels-idx1-ubyte"))[:count]
    x = torch.from_numpy(x.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    return (x - MEAN) / STD, torch.from_numpy(y.astype(np.int64))


def write_safetensors(path, tensors, metadata):
    """tensors: {name: numpy array (float32, float64 or int64)}, in order; as safetensors
    writes them (8-byte dtypes first, the header padded to 8 bytes)."""
    try:
        from safetensors.numpy import save_file
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path, metadata)
        return
    except ImportError:
        pass
    codes = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64",
             np.dtype(np.int64): "I64"}
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for size in (8, 4):
        for name, v in tensors.items():
            if v.dtype.itemsize == size:
                blob = np.ascontiguousarray(v).astype("<" + v.dtype.str[1:]).tobytes()
                header[name] = {"dtype": codes[v.dtype], "shape": list(v.shape),
                                "data_offsets": [off, off + len(blob)]}
                blobs.append(blob)
                off += len(blob)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)) + hjson + b"".join(blobs))


def state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def step(model, opt, xb, yb):
    """One training step; loss.item() before the update, as Lightning logs it."""
    opt.zero_grad()
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shuffle", action="store_true",
                    help="train on a seeded random draw of the training set (randperm) instead")
    ap.add_argument("--val", type=int, default=0,
                    help="print val_acc on the first VAL test images as JSON; write no files")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = TutorialCNN()
    init = state(model)
    x, y = load_split(a.data, "train", None if a.shuffle else a.steps * a.batch)
    if a.shuffle:
        g = torch.Generator().manual_seed(a.seed)
        order = torch.randperm(len(x), generator=g)[:a.steps * a.batch]
        x, y = x[order], y[order]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    model.train()
    for s in range(a.steps):
        losses.append(step(model, opt, x[s * a.batch:(s + 1) * a.batch],
                           y[s * a.batch:(s + 1) * a.batch]))
    if a.val:
        xv, yv = load_split(a.data, "t10k", a.val)
        model.eval()
        with torch.no_grad():
            acc = (model(xv).argmax(1) == yv).double().mean().item()
        print(json.dumps({"tool": "torch", "seed": a.seed, "shuffle": a.shuffle,
                          "val_acc": round(acc, 6), "last_loss": round(losses[-1], 6)}))
        return
    meta = {"generator": "tests/parity/torch_parity.py", "torch": torch.__version__,
            "seed": str(a.seed), "steps": str(a.steps), "batch_size": str(a.batch),
            "optimizer": "Adam(lr=1e-3)", "normalize": "(p/255 - %.4f) / %.4f" % (MEAN, STD),
            "data": "Fashion-MNIST train, the first steps*batch_size images, in order"}
    os.makedirs(a.out, exist_ok=True)
    write_safetensors(os.path.join(a.out, "init.safetensors"), init,
                      {k: meta[k] for k in ("generator", "torch", "seed")})
    ref = state(model)
    ref["loss"] = np.array(losses, dtype=np.float64)
    if a.threads == 1:  # PyTorch against itself: the same run on two threads
        torch.manual_seed(a.seed)
        again = TutorialCNN()
        torch.set_num_threads(2)
        opt = torch.optim.Adam(again.parameters(), lr=1e-3)
        ref["loss_threads2"] = np.array(
            [step(again, opt, x[s * a.batch:(s + 1) * a.batch], y[s * a.batch:(s + 1) * a.batch])
             for s in range(a.steps)], dtype=np.float64)
    write_safetensors(os.path.join(a.out, "torch_ref.safetensors"), ref, meta)
    print("torch_parity: %d steps, loss %.6f -> %.6f; wrote %s/{init,torch_ref}.safetensors"
          % (a.steps, losses[0], losses[-1], a.out))


if __name__ == "__main__":
    main()
