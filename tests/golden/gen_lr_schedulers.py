#!/usr/bin/env python3
"""tests/golden/gen_lr_schedulers.py — writes tests/golden/lr_schedulers.txt, the learning rates
(and momenta) torch.optim.lr_scheduler gives step by step, which tests/unit/test_lr_schedulers.c
checks the lr_schedulers plugins against (through a scripted host, and through `lhost train`
with lr_monitor).

Each case is one optimizer (Adam, or SGD with momentum 0.9) on one parameter at lr `lr0`, and
one scheduler made with the plugin's parameters as torch's class takes them:
  step_lr              StepLR(step_size, gamma)
  cosine_annealing     CosineAnnealingLR(T_max=t_max, eta_min) or, with warmup_iters > 0,
                       SequentialLR([LinearLR(start_factor=warmup_start_factor, end_factor=1.0,
                       total_iters=warmup_iters), CosineAnnealingLR(T_max, eta_min)],
                       milestones=[warmup_iters])
  one_cycle            OneCycleLR(max_lr, total_steps | epochs and steps_per_epoch, ...)
  reduce_lr_on_plateau ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode,
                       cooldown, min_lr, eps), stepped with the scripted metric of the case
Then 100 batches: the lr (and the momentum: Adam's betas[0], SGD's momentum) the optimizer
step of batch k uses is recorded, the optimizer steps, and the scheduler steps when
(k + 1) % frequency == 0 (Lightning's rule for interval "step"; an "epoch" case is the same
sequence with one scheduler step per epoch).

Lines: "case NAME PLUGIN OPTIM LR0 k=v,k=v,...", then "NAME lr v0 ... v99", "NAME momentum
...", and for plateau cases "NAME metric ..." (the value read at each scheduler step).
Run with the Python that has Debian's torch (/usr/bin/python3):
  /usr/bin/python3 tests/golden/gen_lr_schedulers.py
"""
import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

STEPS = 100
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr_schedulers.txt")


def plateau_metric_a():
    """Falls, flattens (patience runs out, cooldown), falls again, then noise around a floor."""
    v = []
    for k in range(STEPS):
        if k < 15:
            v.append(1.0 - 0.05 * k)
        elif k < 40:
            v.append(0.3 + 0.00001 * math.sin(k))  # inside the 1e-4 relative threshold
        elif k < 55:
            v.append(0.3 - 0.01 * (k - 39))
        else:
            v.append(0.16 + 0.02 * math.sin(0.7 * k))
    return v


def plateau_metric_b():
    """An accuracy-like value: rises, stalls, rises by less than the absolute threshold."""
    v = []
    for k in range(STEPS):
        if k < 10:
            v.append(0.5 + 0.03 * k)
        elif k < 50:
            v.append(0.77 + 0.004 * ((k * 7) % 5))
        else:
            v.append(0.79 + 0.011 * ((k - 50) // 6))
    return v


CASES = [
    ("step_a", "step_lr", "adam", 0.1, {"step_size": 7, "gamma": 0.5}),
    ("step_freq", "step_lr", "sgd", 0.05, {"step_size": 3, "gamma": 0.7, "frequency": 2}),
    ("step_epoch", "step_lr", "adam", 0.001, {"step_size": 3, "gamma": 0.5,
                                              "interval": "epoch"}),
    ("cos_a", "cosine_annealing", "sgd", 0.1, {"t_max": 30, "eta_min": 0.0001}),
    ("cos_warm", "cosine_annealing", "adam", 0.003,
     {"t_max": 80, "eta_min": 1e-05, "warmup_iters": 20, "warmup_start_factor": 0.01}),
    ("cos_warm_b", "cosine_annealing", "adam", 0.001, {"t_max": 50, "warmup_iters": 10}),
    ("oc_cos", "one_cycle", "adam", 0.001, {"max_lr": 0.01, "total_steps": 100}),
    ("oc_lin3", "one_cycle", "sgd", 0.1,
     {"max_lr": 0.05, "total_steps": 100, "anneal_strategy": "linear", "three_phase": True,
      "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8,
      "max_momentum": 0.9}),
    ("oc_epochs", "one_cycle", "adam", 0.001,
     {"max_lr": 0.02, "epochs": 4, "steps_per_epoch": 25, "pct_start": 0.4,
      "cycle_momentum": False}),
    ("oc_cos3", "one_cycle", "adam", 0.001,
     {"max_lr": 0.004, "total_steps": 120, "three_phase": True}),
    ("plateau_a", "reduce_lr_on_plateau", "adam", 0.01,
     {"patience": 3, "factor": 0.5, "cooldown": 2, "min_lr": 0.0001}),
    ("plateau_b", "reduce_lr_on_plateau", "sgd", 0.1,
     {"monitor": "val_acc", "mode": "max", "threshold_mode": "abs", "threshold": 0.01,
      "patience": 2, "cooldown": 1, "factor": 0.3, "min_lr": 0.002}),
]
METRICS = {"plateau_a": plateau_metric_a(), "plateau_b": plateau_metric_b()}
LIGHTNING = ("interval", "frequency", "monitor", "strict")


def scheduler(plugin, opt, p):
    kw = {k: v for k, v in p.items() if k not in LIGHTNING}
    if plugin == "step_lr":
        return S.StepLR(opt, **kw)
    if plugin == "cosine_annealing":
        t_max, eta_min = kw["t_max"], kw.get("eta_min", 0)
        w, f = kw.get("warmup_iters", 0), kw.get("warmup_start_factor", 1.0 / 3)
        if w == 0:
            return S.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=f, end_factor=1.0,
                                               total_iters=w),
                                    S.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)],
                              milestones=[w])
    if plugin == "one_cycle":
        return S.OneCycleLR(opt, **kw)
    return S.ReduceLROnPlateau(opt, **kw)


def momentum(opt):
    g = opt.param_groups[0]
    return g["betas"][0] if "betas" in g else g["momentum"]


def run(name, plugin, optim, lr0, p):
    w = torch.nn.Parameter(torch.zeros(3))
    opt = (torch.optim.Adam([w], lr=lr0) if optim == "adam"
           else torch.optim.SGD([w], lr=lr0, momentum=0.9))
    sch = scheduler(plugin, opt, p)
    freq = p.get("frequency", 1)
    lrs, moms, metric = [], [], METRICS.get(name)
    n_sched = 0
    for k in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(momentum(opt))
        w.grad = torch.full_like(w, 0.1)
        opt.step()
        if (k + 1) % freq == 0:
            if metric is not None:
                sch.step(metric[n_sched])
            else:
                sch.step()
            n_sched += 1
    return lrs, moms


def text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else repr(v)


def main():
    warnings.simplefilter("ignore")
    lines = ["# written by tests/golden/gen_lr_schedulers.py (torch %s); do not edit"
             % torch.__version__]
    for name, plugin, optim, lr0, p in CASES:
        params = dict(p)
        params.setdefault("interval", "step")
        kv = ",".join("%s=%s" % (k, text(v)) for k, v in params.items())
        lrs, moms = run(name, plugin, optim, lr0, p)
        lines.append("case %s %s %s %r %s" % (name, plugin, optim, lr0, kv))
        lines.append("%s lr %s" % (name, " ".join(repr(x) for x in lrs)))
        lines.append("%s momentum %s" % (name, " ".join(repr(float(x)) for x in moms)))
        if name in METRICS:
            lines.append("%s metric %s" % (name, " ".join(repr(x) for x in METRICS[name])))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
