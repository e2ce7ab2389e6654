#!/usr/bin/env python3
"""tests/golden/gen_update_bn.py — writes tests/golden/update_bn.txt, the reference that
tests/unit/test_update_bn.c checks lhost's batch-norm statistics pass against
(host/nn/model_tensors.c lh_model_update_bn, what the update_bn host service and the swa plugin
run): torch.optim.swa_utils.update_bn, as StochasticWeightAveraging's extra epoch computes it.

A model of the layers lhost knows with both batch norms: conv2d 1 -> 3, 3x3 pad 1 ->
batchnorm2d -> relu -> flatten -> linear 108 -> 4 -> batchnorm1d, on 1x6x6 inputs. Weights and
inputs come from formulas both sides evaluate (float64, then rounded to float32):
  w[k] = 0.3 * sin(0.37 * k + 1 + t)     for the k-th element of parameter tensor t
  x_b[k] = sin(0.91 * k + 0.7 * b) * (1 + 0.5 * sin(1.3 * (k // 36))) + 0.2 * b
    (batch b = 0, 1, 2 of 5, 3 and 4 samples)
The running statistics start away from their init (mean 0.5, var 2, num_batches_tracked 7).
Lines:
  * "bn <running_mean 3> <running_var 3> <num_batches_tracked> <running_mean 4> <running_var 4>
    <num_batches_tracked>" after update_bn over the three batches (momentum None: the average
    of the batches' statistics, the count 3);
  * "after ..." the same after one more train-mode forward of batch 0 with the momentum (0.1)
    back.
Run with the Python that has Debian's torch (/usr/bin/python3):
  /usr/bin/python3 tests/golden/gen_update_bn.py
"""
import math
import os

import torch
from torch.optim.swa_utils import update_bn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "update_bn.txt")
SIZES = [5, 3, 4]


def model():
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(108, 4), torch.nn.BatchNorm1d(4))
    with torch.no_grad():
        for t, p in enumerate(m.parameters()):
            vals = [0.3 * math.sin(0.37 * k + 1 + t) for k in range(p.numel())]
            p.copy_(torch.tensor(vals, dtype=torch.float64).float().reshape(p.shape))
        for bn in (m[1], m[5]):
            bn.running_mean.fill_(0.5)
            bn.running_var.fill_(2.0)
            bn.num_batches_tracked.fill_(7)
    return m


def batch(b):
    n = SIZES[b] * 36
    x = [math.sin(0.91 * k + 0.7 * b) * (1 + 0.5 * math.sin(1.3 * (k // 36))) + 0.2 * b
         for k in range(n)]
    return torch.tensor(x, dtype=torch.float64).float().reshape(SIZES[b], 1, 6, 6)


def stats(m):
    out = []
    for bn in (m[1], m[5]):
        out += [float(v) for v in bn.running_mean] + [float(v) for v in bn.running_var]
        out.append(int(bn.num_batches_tracked))
    return " ".join(repr(v) for v in out)


def main():
    m = model()
    update_bn([batch(b) for b in range(len(SIZES))], m)
    lines = ["# written by tests/golden/gen_update_bn.py (torch %s); do not edit"
             % torch.__version__, "bn " + stats(m)]
    m.train()
    with torch.no_grad():
        m(batch(0))
    lines.append("after " + stats(m))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
