#!/usr/bin/env python3
"""tests/golden/gen_ref_callbacks.py — writes tests/golden/ref_callbacks.txt, the reference that
tests/unit/test_ref_callbacks.c checks the reference callback plugins against through a
scripted host (the plugins' own arithmetic and schedules; the host's gradient norms are checked
against torch by test_grad_clip).

A "model" of two tensors, fc.weight (3, 4) and fc.bias (3), whose weights the test sets before
each hook from the sequence stored here:
  w_t[k] = float32(0.5 * sin(0.37 * k + 0.91 * t) + 0.05 * t)      t = 0 .. 12
  * ema: torch.optim.swa_utils.AveragedModel with Lightning's EMA avg_fn
    (decay * avg + (1 - decay) * w), made from w_0 (Lightning makes it at setup) and updated
    after optimizer step t (weights w_t) when EMAWeightAveraging.should_update(step_idx=t - 1);
  * ema_bn: the same with a BatchNorm1d(3, affine=False) beside the tensors (buffers only:
    running_mean, running_var, num_batches_tracked set before each step from
      b_t[k] = float32(0.3 * cos(0.41 * k + 0.77 * t) + 0.1 * t) (+ 1 for running_var),
      num_batches_tracked = 3 t + 1),
    and Lightning's default use_buffers=True: AveragedModel(use_buffers=True) averages them
    too (the int64 count through the float32 avg_fn, truncated by copy_);
  * swa: StochasticWeightAveraging's schedule: at the start of epoch e the weights are w_e, the
    SWALR scheduler (torch's) is made at the first epoch in [swa_start, max_epochs - 1] and
    stepped after every epoch from then on; the lr each epoch trains with is recorded; the
    AveragedModel (default equal-weight avg_fn) is updated at the start of every epoch in the
    window; the model takes the average at the end;
  * grad_norm: gradients g[k] = float32(0.2 * cos(0.53 * k) - 0.01 * k) for the same tensors,
    Lightning's grad_norm: p.grad.norm(p) per parameter, torch.tensor(norms).norm(p) total.
Run with the Python that has Debian's torch (/usr/bin/python3):
  /usr/bin/python3 tests/golden/gen_ref_callbacks.py
"""
import math
import os
import warnings

import torch
from torch.optim.swa_utils import SWALR, AveragedModel

SHAPES = [(3, 4), (3,)]
STEPS = 12
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref_callbacks.txt")

# (name, decay, update_every_n_steps, update_starting_at_step or None)
EMA_CASES = [("ema_a", 0.9, 1, None), ("ema_b", 0.75, 2, 3)]
# (name, lr0, swa_lrs, swa_epoch_start (int or float), annealing_epochs, strategy, max_epochs)
SWA_CASES = [("swa_cos", 0.1, 0.05, 3, 2, "cos", 6), ("swa_lin", 0.1, 0.02, 0.5, 3, "linear", 6),
             ("swa_zero", 0.2, 0.01, 1, 0, "cos", 4), ("swa_cli", 0.001, 0.01, 2, 2, "cos", 4)]
NORMS = [2.0, 1.5, math.inf]


def weights(t):
    n = sum(math.prod(s) for s in SHAPES)
    return torch.tensor([0.5 * math.sin(0.37 * k + 0.91 * t) + 0.05 * t for k in range(n)],
                        dtype=torch.float64).float()


def model():
    return torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(s)) for s in SHAPES])


def load(m, flat):
    with torch.no_grad():
        off = 0
        for p in m.parameters():
            p.copy_(flat[off:off + p.numel()].reshape(p.shape))
            off += p.numel()


def flat(m):
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()])


def fmt(v):
    return " ".join(repr(float(x)) for x in v)


def ema_case(decay, every, start):
    m = model()
    load(m, weights(0))
    avg = AveragedModel(m, avg_fn=lambda a, w, n: decay * a + (1 - decay) * w)
    for t in range(1, STEPS + 1):
        load(m, weights(t))
        step_idx = t - 1
        if every > 0 and step_idx % every == 0 and (start is None or step_idx >= start):
            avg.update_parameters(m)
    return flat(avg.module)


def bn_buffers(t):
    mean = [0.3 * math.cos(0.41 * k + 0.77 * t) + 0.1 * t for k in range(3)]
    var = [0.3 * math.cos(0.41 * k + 0.77 * t) + 0.1 * t + 1 for k in range(3, 6)]
    return (torch.tensor(mean, dtype=torch.float64).float(),
            torch.tensor(var, dtype=torch.float64).float(), 3 * t + 1)


class WithBn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.p = model()
        self.bn = torch.nn.BatchNorm1d(3, affine=False)


def load_bn(m, t):
    load(m.p, weights(t))
    mean, var, count = bn_buffers(t)
    m.bn.running_mean.copy_(mean)
    m.bn.running_var.copy_(var)
    m.bn.num_batches_tracked.fill_(count)


def ema_bn_case(decay):
    m = WithBn()
    load_bn(m, 0)
    avg = AveragedModel(m, avg_fn=lambda a, w, n: decay * a + (1 - decay) * w, use_buffers=True)
    for t in range(1, STEPS + 1):
        load_bn(m, t)
        avg.update_parameters(m)
    bn = avg.module.bn
    return (flat(avg.module.p), torch.cat([bn.running_mean, bn.running_var]),
            int(bn.num_batches_tracked))


def swa_case(lr0, swa_lr, epoch_start, anneal, strategy, max_epochs):
    m = model()
    opt = torch.optim.SGD(m.parameters(), lr=lr0)
    if isinstance(epoch_start, float):
        epoch_start = int(max_epochs * epoch_start)
    swa_start, swa_end = max(epoch_start - 1, 0), max_epochs - 1
    avg, sched, lrs = AveragedModel(m), None, []
    for e in range(max_epochs):
        load(m, weights(e))
        if sched is None and swa_start <= e <= swa_end:
            for g in opt.param_groups:
                g["initial_lr"] = swa_lr
            sched = SWALR(opt, swa_lr=swa_lr, anneal_epochs=anneal, anneal_strategy=strategy,
                          last_epoch=max_epochs if strategy == "cos" else -1)
        if swa_start <= e <= swa_end:
            avg.update_parameters(m)
        lrs.append(opt.param_groups[0]["lr"])
        if sched is not None:
            sched.step()
    return lrs, flat(avg.module)


def main():
    warnings.filterwarnings("ignore")
    lines = ["# written by tests/golden/gen_ref_callbacks.py (torch %s); do not edit"
             % torch.__version__]
    for t in range(STEPS + 1):
        lines.append("w %d %s" % (t, fmt(weights(t))))
    for name, decay, every, start in EMA_CASES:
        lines.append("%s %s" % (name, fmt(ema_case(decay, every, start))))
    for t in range(STEPS + 1):
        mean, var, count = bn_buffers(t)
        lines.append("b %d %s %s %d" % (t, fmt(mean), fmt(var), count))
    w, b, count = ema_bn_case(0.9)
    lines.append("ema_bn %s" % fmt(w))
    lines.append("ema_bn_buffers %s %d" % (fmt(b), count))
    for name, lr0, swa_lr, start, anneal, strategy, max_epochs in SWA_CASES:
        lrs, w = swa_case(lr0, swa_lr, start, anneal, strategy, max_epochs)
        lines.append("%s_lr %s" % (name, fmt(lrs)))
        lines.append("%s %s" % (name, fmt(w)))
    n = sum(math.prod(s) for s in SHAPES)
    g = torch.tensor([0.2 * math.cos(0.53 * k) - 0.01 * k for k in range(n)],
                     dtype=torch.float64).float()
    lines.append("g %s" % fmt(g))
    for p in NORMS:
        parts = [g[:12], g[12:]]
        norms = [x.norm(p) for x in parts]
        total = torch.tensor(norms).norm(p)
        lines.append("norm %s %s %s" % ("inf" if math.isinf(p) else repr(p),
                                        fmt(norms), repr(float(total))))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
