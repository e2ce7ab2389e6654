#!/usr/bin/env python3
"""tests/golden/gen_grad_clip.py — writes tests/golden/grad_clip.txt, the reference that
tests/unit/test_grad_clip.c checks lhost's gradient norms and clipping against
(host/nn/model_tensors.c, the grad_norm / clip_grad_* host services and trainer.gradient_clip_val).

A small model of the layers lhost knows (conv2d 1 -> 4, 3x3 pad 1 -> relu -> maxpool2d 2 ->
flatten -> linear 64 -> 10) on one batch of 6 inputs of 1x8x8. Weights and inputs come from a
formula both sides evaluate (float64, then rounded to float32), so only the results are stored:
  w[k] = 0.3 * sin(0.37 * k + 1 + t)     for the k-th element of parameter tensor t (t = 0..3)
  x[k] = cos(0.11 * k)                   targets[i] = (3 * i) % 10
loss = mean cross-entropy; one backward. Then, with torch.nn.utils:
  * each parameter's gradient p-norm and clip_grad_norm_'s total for p = 1, 2, 3.5 and inf
    (the value clip_grad_norm_ returns);
  * every gradient after clip_grad_norm_(max_norm = total_2 / 4, norm_type=2);
  * every gradient after clip_grad_value_(clip_value = 0.5 * max |g|).
Run with the Python that has Debian's torch (/usr/bin/python3):
  /usr/bin/python3 tests/golden/gen_grad_clip.py
"""
import math
import os

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float32)


def model():
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with torch.no_grad():
        for t, p in enumerate(m.parameters()):
            n = p.numel()
            vals = [0.3 * math.sin(0.37 * k + 1 + t) for k in range(n)]
            p.copy_(torch.tensor(vals, dtype=torch.float64).float().reshape(p.shape))
    return m


def batch():
    n = 6
    x = torch.tensor([math.cos(0.11 * k) for k in range(n * 64)], dtype=torch.float64)
    x = x.float().reshape(n, 1, 8, 8)
    y = torch.tensor([(3 * i) % 10 for i in range(n)], dtype=torch.long)
    return x, y


def grads(m):
    x, y = batch()
    m.zero_grad()
    torch.nn.functional.cross_entropy(m(x), y).backward()
    return [p.grad.detach().clone() for p in m.parameters()]


def main():
    out = []
    m = model()
    g = grads(m)
    for p in (1.0, 2.0, 3.5, math.inf):
        per = [float(torch.linalg.vector_norm(t, p)) for t in g]
        m2 = model()
        grads(m2)
        total = float(torch.nn.utils.clip_grad_norm_(m2.parameters(), 1e30, norm_type=p))
        out.append("norm %s %s %s" % (repr(p) if p != math.inf else "inf",
                                      " ".join("%.17g" % v for v in per), "%.17g" % total))
    m3 = model()
    grads(m3)
    total2 = float(torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(t, 2) for t in g]), 2))
    max_norm = total2 / 4
    torch.nn.utils.clip_grad_norm_(m3.parameters(), max_norm, norm_type=2.0)
    out.append("clip_norm %.17g %s" % (max_norm, " ".join(
        "%.9g" % v for p in m3.parameters() for v in p.grad.flatten().tolist())))
    m4 = model()
    grads(m4)
    clip_value = 0.5 * max(float(t.abs().max()) for t in g)
    torch.nn.utils.clip_grad_value_(m4.parameters(), clip_value)
    out.append("clip_value %.17g %s" % (clip_value, " ".join(
        "%.9g" % v for p in m4.parameters() for v in p.grad.flatten().tolist())))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grad_clip.txt")
    with open(path, "w") as f:
        f.write("# tests/golden/grad_clip.txt — written by gen_grad_clip.py (torch %s); "
                "do not edit\n" % torch.__version__)
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
