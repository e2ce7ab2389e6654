#!/usr/bin/env python3
"""tests/golden/gen_trainer_ref.py — writes tests/golden/trainer_ref.safetensors, the reference
that tests/unit/test_trainer.c trains lhost against in-process (as llm.c's test_gpt2.c checks
its training step against a state file its PyTorch script wrote).

A tiny model of the layers lhost knows (conv2d 3x3 pad 1 -> relu -> maxpool2d 2 -> flatten ->
linear, 1 -> 4 channels on 8x8 images, 10 classes) trains for 2 epochs of 3 batches (16, 16, 8:
the short last batch checks the mean over n) with each optimizer case below, exactly as lhost's
trainer does:
  * initial weights: lhost's own initialisation (host/nn/model.c lh_model_init), reproduced here
    with its PCG32 stream (seed, 1), so the test also checks lhost draws them;
  * batch order: lhost's epoch shuffle (host/nn/rng.c lh_rng_shuffle on stream (seed, 2)), which
    reshuffles the previous epoch's order in place, starting from 0, 1, 2, ...;
  * inputs: (pixel / 255 - mean) / std in float32, as the backend's gather_normalize does;
  * loss: mean cross-entropy of the batch; the logged step loss is the one before the update;
  * validation after every epoch: the mean cross-entropy over the whole test split (lhost
    weights each batch's mean by its size) and the accuracy (micro: correct / samples).

The file holds the dataset (U8, the test writes it out as IDX files), the initial weights
("init.<param>") and, per case, the lhost config that reproduces it (metadata "<case>.config"),
the step losses, the epoch values, the final data order, the final weights and the optimizer
state ("<case>.final.<param>", "<case>.m.<param>": exp_avg or momentum_buffer, "<case>.v.<param>":
exp_avg_sq). Run with the Python that has Debian's torch (/usr/bin/python3):
  /usr/bin/python3 tests/golden/gen_trainer_ref.py
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_safetensors import check, write  # noqa: E402

SEED = 11
N_TRAIN, N_VAL, SIDE, CLASSES, BATCH, EPOCHS = 40, 20, 8, 10, 16, 2
MEAN, STD = 0.3, 0.25
CONV_OUT = 4

MODEL_YAML = (
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n    - {type: flatten}\n"
    "    - {type: linear, name: fc, out_features: 10}\n")

# name, lhost optimizer section, torch optimizer factory
CASES = [
    ("adam", "{name: adam, lr: 0.01}",
     lambda ps: torch.optim.Adam(ps, lr=0.01)),
    ("sgd", "{name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.001}",
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.001)),
    ("adamw", "{name: adamw, lr: 0.02, betas: [0.8, 0.99], eps: 1.0e-6, weight_decay: 0.1}",
     lambda ps: torch.optim.AdamW(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
]

M64 = (1 << 64) - 1


class Pcg32:
    """host/nn/rng.c: pcg32 XSH-RR with pcg-c-basic's seeding."""

    def __init__(self, seed, stream):
        self.state, self.inc = 0, ((stream << 1) | 1) & M64
        self.next()
        self.state = (self.state + seed) & M64
        self.next()

    def next(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & M64
        xs = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((xs >> rot) | (xs << ((-rot) & 31))) & 0xFFFFFFFF

    def bounded(self, bound):
        threshold = ((1 << 32) - bound) % bound
        while True:
            v = self.next()
            if v >= threshold:
                return v % bound

    def uniform(self):
        a = self.next() >> 5
        b = self.next() >> 6
        return ((a << 26) | b) * (1.0 / 9007199254740992.0)

    def shuffle(self, perm):
        for i in range(len(perm) - 1, 0, -1):
            j = self.bounded(i + 1)
            perm[i], perm[j] = perm[j], perm[i]


def dataset(count, seed):
    """Class k: a bright 3x3 square at a k-dependent place over noise (a tiny LCG)."""
    s = seed
    imgs = np.zeros((count, SIDE, SIDE), np.uint8)
    labels = np.zeros(count, np.uint8)

    def nxt():
        nonlocal s
        s = (s * 6364136223846793005 + 1442695040888963407) & M64
        return s >> 33

    for i in range(count):
        k = nxt() % CLASSES
        oy, ox = (k * 3) % 6, (k * 5) % 6
        labels[i] = k
        for y in range(SIDE):
            for x in range(SIDE):
                v = nxt() % 100
                if oy <= y < oy + 3 and ox <= x < ox + 3:
                    v += 140
                imgs[i, y, x] = v
    return imgs, labels


def lhost_init():
    """lh_model_init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per parameter in order, the bias with
    its weight's fan_in, each value (2u - 1) * bound in double rounded to float32."""
    rng = Pcg32(SEED, 1)
    shapes = [("conv.weight", [CONV_OUT, 1, 3, 3], 9), ("conv.bias", [CONV_OUT], 9),
              ("fc.weight", [CLASSES, CONV_OUT * 16], CONV_OUT * 16),
              ("fc.bias", [CLASSES], CONV_OUT * 16)]
    out = []
    for name, shape, fan_in in shapes:
        bound = 1.0 / math.sqrt(fan_in)
        n = int(np.prod(shape))
        vals = np.array([(2.0 * rng.uniform() - 1.0) * bound for _ in range(n)], np.float64)
        out.append((name, shape, vals.astype(np.float32).reshape(shape)))
    return out


def normalise(imgs):
    x = imgs.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x).reshape(-1, 1, SIDE, SIDE)


def forward(p, x):
    h = F.conv2d(x, p["conv.weight"], p["conv.bias"], padding=1)
    h = F.max_pool2d(F.relu(h), 2)
    return F.linear(h.flatten(1), p["fc.weight"], p["fc.bias"])


def run_case(name, make_opt, init, train, val):
    p = {n: torch.tensor(w, requires_grad=True) for n, _, w in init}
    order = [n for n, _, _ in init]
    opt = make_opt([p[n] for n in order])
    xt, yt = normalise(train[0]), torch.from_numpy(train[1].astype(np.int64))
    xv, yv = normalise(val[0]), torch.from_numpy(val[1].astype(np.int64))
    rng = Pcg32(SEED, 2)
    perm = list(range(N_TRAIN))
    losses, val_loss, val_acc, train_loss = [], [], [], []
    for _ in range(EPOCHS):
        rng.shuffle(perm)
        s, w = 0.0, 0
        for start in range(0, N_TRAIN, BATCH):
            idx = torch.tensor(perm[start:start + BATCH])
            loss = F.cross_entropy(forward(p, xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            s += loss.item() * len(idx)
            w += len(idx)
        train_loss.append(s / w)
        with torch.no_grad():
            logits = forward(p, xv)
            val_loss.append(F.cross_entropy(logits, yv).item())
            val_acc.append((logits.argmax(1) == yv).double().mean().item())
    tensors = [
        (name + ".losses", "F32", [len(losses)], losses),
        (name + ".train_loss", "F64", [EPOCHS], train_loss),
        (name + ".val_loss", "F64", [EPOCHS], val_loss),
        (name + ".val_acc", "F64", [EPOCHS], val_acc),
        (name + ".perm", "I32", [N_TRAIN], perm),
    ]
    for n, shape, _ in init:
        st = opt.state[p[n]]
        tensors.append((name + ".final." + n, "F32", shape, p[n].detach().reshape(-1).tolist()))
        if "momentum_buffer" in st:
            tensors.append((name + ".m." + n, "F32", shape,
                            st["momentum_buffer"].reshape(-1).tolist()))
        else:
            tensors.append((name + ".m." + n, "F32", shape, st["exp_avg"].reshape(-1).tolist()))
            tensors.append((name + ".v." + n, "F32", shape,
                            st["exp_avg_sq"].reshape(-1).tolist()))
    print("%-6s losses %s  val_loss %s  val_acc %s" %
          (name, " ".join("%.4f" % v for v in losses), val_loss, val_acc))
    return tensors


def main():
    torch.set_num_threads(1)
    train, val = dataset(N_TRAIN, 101), dataset(N_VAL, 202)
    init = lhost_init()
    tensors = [
        ("train.images", "U8", [N_TRAIN, SIDE, SIDE], train[0].reshape(-1).tolist()),
        ("train.labels", "U8", [N_TRAIN], train[1].tolist()),
        ("val.images", "U8", [N_VAL, SIDE, SIDE], val[0].reshape(-1).tolist()),
        ("val.labels", "U8", [N_VAL], val[1].tolist()),
    ]
    tensors += [("init." + n, "F32", shape, w.reshape(-1).tolist()) for n, shape, w in init]
    meta = {"torch": torch.__version__}
    for name, section, make_opt in CASES:
        tensors += run_case(name, make_opt, init, train, val)
        meta[name + ".config"] = (
            "seed: %d\ndata: {batch_size: %d, num_classes: %d, mean: %r, std: %r}\n%s"
            "optimizer: %s\n"
            "trainer: {max_epochs: %d, log_every_n_steps: 1, enable_progress_bar: false, "
            "enable_model_summary: false, device: cpu, threads: 1}\n"
            "metrics:\n  acc: {plugin: accuracy, num_classes: %d, average: micro}\n"
            % (SEED, BATCH, CLASSES, MEAN, STD, MODEL_YAML, section, EPOCHS, CLASSES))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trainer_ref.safetensors")
    write(path, tensors, meta)
    check(path)


if __name__ == "__main__":
    main()
