"""tests/golden/lh_torch.py — an lhost model spec (the "model_spec" JSON a checkpoint carries)
as a PyTorch module with the same state_dict names, so lhost's checkpoints load into it with
load_state_dict(strict=True). Used by gen_layers_ref.py and torch_load_check.py.

Layer names with dots ("block1.body.0") become nested modules (block1 -> body -> 0), as
nn.Sequential nests them in PyTorch. A residual layer ends a block: it adds the input of its
body's first layer (the `span` layers before it) to the body's output, through a 1x1
projection "<name>.proj" (nn.Conv2d with bias) when the body changes the shape.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Container(nn.Module):
    """A node of the name tree that holds only children (no forward of its own)."""


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def make(layer, x):
    """The module for one lhost layer given a sample input x (for inferred sizes)."""
    t = layer["type"]
    if t == "conv2d":
        return nn.Conv2d(layer["in_channels"], layer["out_channels"], layer["kernel_size"],
                         stride=layer["stride"], padding=layer["padding"])
    if t == "linear":
        return nn.Linear(layer["in_features"], layer["out_features"])
    if t in ("batchnorm1d", "batchnorm2d"):
        cls = nn.BatchNorm1d if t == "batchnorm1d" else nn.BatchNorm2d
        return cls(layer["num_features"], eps=layer["eps"], momentum=layer["momentum"])
    if t == "maxpool2d":
        return nn.MaxPool2d(layer["kernel_size"], layer["stride"])
    if t == "avgpool2d":
        return nn.AvgPool2d(layer["kernel_size"], layer["stride"])
    if t == "adaptive_avgpool2d":
        return nn.AdaptiveAvgPool2d((layer["output_size"], layer["output_w"]))
    if t == "leaky_relu":
        return nn.LeakyReLU(layer["negative_slope"])
    if t == "dropout":
        return nn.Dropout(layer["p"])
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
              "silu": nn.SiLU, "flatten": nn.Flatten, "global_avgpool2d": GlobalAvgPool}
    return simple[t]()


class LhostModel(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.layers = spec["layers"]
        self.mods = []
        x = torch.zeros(2, spec["in_c"], spec["in_h"], spec["in_w"])
        ins = []
        with torch.no_grad():
            for l in self.layers:
                ins.append(x)
                node = self._node(l["name"])
                if l["type"] == "residual":
                    skip = ins[len(ins) - 1 - l["span"]]
                    if skip.shape != x.shape:
                        stride = next(s for s in range(1, skip.shape[2] + 1)
                                      if (skip.shape[2] - 1) // s + 1 == x.shape[2])
                        node.proj = nn.Conv2d(skip.shape[1], x.shape[1], 1, stride=stride)
                    self.mods.append(node)
                    x = self._residual(node, skip, x)
                    continue
                m = make(l, x)
                parent, leaf = self._parent(l["name"])
                parent.add_module(leaf, m)
                self.mods.append(m)
                m.eval()  # tracing shapes must not move batchnorm's running statistics
                x = m(x)
                m.train()

    def _parent(self, name):
        parts = name.split(".")
        node = self
        for p in parts[:-1]:
            if not hasattr(node, p):
                node.add_module(p, Container())
            node = getattr(node, p)
        return node, parts[-1]

    def _node(self, name):
        parent, leaf = self._parent(name)
        if not hasattr(parent, leaf):
            parent.add_module(leaf, Container())
        return getattr(parent, leaf)

    @staticmethod
    def _residual(node, skip, body):
        return body + (node.proj(skip) if hasattr(node, "proj") else skip)

    def forward(self, x):
        ins = []
        for l, m in zip(self.layers, self.mods):
            ins.append(x)
            if l["type"] == "residual":
                x = self._residual(m, ins[len(ins) - 1 - l["span"]], x)
            else:
                x = m(x)
        return x
