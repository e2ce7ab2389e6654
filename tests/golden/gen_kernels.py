#!/usr/bin/python3
"""tests/golden/gen_kernels.py — writes tests/golden/kernels.txt, PyTorch reference values for
tests/unit/test_kernels_cpu.c (conv2d, relu, maxpool, linear, softmax-CE, Adam/AdamW, SGD).

Run from the repository root:  /usr/bin/python3 tests/golden/gen_kernels.py
Needs Debian's python3-torch. Each line of the output is
    <name> <count> <v0> <v1> ...        (float32 values printed with 9 significant digits)
and names are <case>.<tensor>. Inputs are drawn with a fixed seed, so the file is reproducible.
Shapes and hyper-parameters the C test needs are stored as tensors too (<case>.shape, .hp)."""
import os
import torch

torch.manual_seed(1234)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels.txt")
lines = []


def put(name, t):
    v = t.detach().reshape(-1).to(torch.float64).tolist()
    lines.append(name + " " + str(len(v)) + " " + " ".join("%.9g" % x for x in v))


def conv_case(name, n, c, h, w, k, r, stride, pad):
    x = torch.randn(n, c, h, w, requires_grad=True)
    conv = torch.nn.Conv2d(c, k, r, stride=stride, padding=pad)
    y = conv(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(name + ".shape", torch.tensor([n, c, h, w, k, r, r, stride, pad, y.shape[2], y.shape[3]]))
    put(name + ".x", x)
    put(name + ".w", conv.weight)
    put(name + ".b", conv.bias)
    put(name + ".dy", dy)
    put(name + ".y", y)
    put(name + ".dx", x.grad)
    put(name + ".dw", conv.weight.grad)
    put(name + ".db", conv.bias.grad)


conv_case("conv_a", 2, 3, 7, 6, 4, 3, 1, 1)    # stride 1, pad 1
conv_case("conv_b", 2, 2, 9, 8, 3, 3, 2, 0)    # stride 2, pad 0
conv_case("conv_c", 2, 5, 4, 4, 3, 1, 1, 0)    # 1x1 (the GEMM-only path)
conv_case("conv_d", 1, 4, 6, 7, 2, 2, 2, 1)    # even kernel, stride 2, pad 1

# relu: keep inputs away from 0 so the gradient is defined
x = torch.randn(3, 50)
x = torch.where(x.abs() < 0.05, x + 0.1, x).requires_grad_(True)
y = torch.relu(x)
dy = torch.randn_like(y)
y.backward(dy)
put("relu.x", x); put("relu.dy", dy); put("relu.y", y); put("relu.dx", x.grad)


def pool_case(name, n, c, h, w, size, stride):
    x = torch.randn(n, c, h, w, requires_grad=True)
    y = torch.nn.functional.max_pool2d(x, size, stride)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(name + ".shape", torch.tensor([n, c, h, w, size, stride, y.shape[2], y.shape[3]]))
    put(name + ".x", x); put(name + ".dy", dy); put(name + ".y", y); put(name + ".dx", x.grad)


pool_case("pool_a", 2, 3, 7, 7, 2, 2)   # odd size: floor mode drops the last row/column
pool_case("pool_b", 1, 2, 7, 6, 3, 2)   # overlapping windows

lin = torch.nn.Linear(7, 5)
x = torch.randn(4, 7, requires_grad=True)
y = lin(x)
dy = torch.randn_like(y)
y.backward(dy)
put("linear.shape", torch.tensor([4, 7, 5]))
put("linear.x", x); put("linear.w", lin.weight); put("linear.b", lin.bias); put("linear.dy", dy)
put("linear.y", y); put("linear.dx", x.grad); put("linear.dw", lin.weight.grad)
put("linear.db", lin.bias.grad)

z = (torch.randn(6, 10) * 3).requires_grad_(True)
t = torch.tensor([3, 0, 9, 9, 5, 1])
loss = torch.nn.functional.cross_entropy(z, t)
loss.backward()
put("xent.logits", z); put("xent.targets", t); put("xent.loss", loss); put("xent.dlogits", z.grad)

# optimizers: 10 steps on a fixed sequence of gradients
NP, STEPS = 40, 10
p0 = torch.randn(NP)
grads = torch.randn(STEPS, NP)
put("opt.p0", p0)
put("opt.grads", grads)


def run_opt(name, make, hp):
    p = torch.nn.Parameter(p0.clone())
    opt = make([p])
    for s in range(STEPS):
        p.grad = grads[s].clone()
        opt.step()
    put(name + ".hp", torch.tensor(hp, dtype=torch.float64))
    put(name + ".p", p)


# Adam hp: lr beta1 beta2 eps weight_decay decoupled
for name, wd, dec in (("adam", 0.0, 0), ("adam_wd", 0.1, 0), ("adamw", 0.1, 1)):
    cls = torch.optim.AdamW if dec else torch.optim.Adam
    run_opt(name, lambda ps, cls=cls, wd=wd: cls(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                                                   weight_decay=wd),
            [0.01, 0.9, 0.999, 1e-8, wd, dec])
# SGD hp: lr momentum dampening weight_decay nesterov
for name, mom, damp, wd, nest in (("sgd", 0.0, 0.0, 0.0, 0), ("sgd_mom", 0.9, 0.0, 0.0, 0),
                                  ("sgd_nesterov", 0.9, 0.0, 0.01, 1),
                                  ("sgd_damp_wd", 0.8, 0.3, 0.05, 0)):
    run_opt(name, lambda ps, mom=mom, damp=damp, wd=wd, nest=nest: torch.optim.SGD(
        ps, lr=0.05, momentum=mom, dampening=damp, weight_decay=wd, nesterov=bool(nest)),
        [0.05, mom, damp, wd, nest])

with open(OUT, "w") as f:
    f.write("# PyTorch %s reference values written by tests/golden/gen_kernels.py\n"
            % torch.__version__)
    f.write("\n".join(lines) + "\n")
print("wrote", OUT, os.path.getsize(OUT), "bytes")
