"""bench/torch_epoch.py — the tutorial's model in plain PyTorch on the CPU, one epoch, for
comparison with lhost in bench/bench_epoch.sh (same data, batch 64, Adam 1e-3, same threads).

  python3 bench/torch_epoch.py --data /usr/share/datasets/fashion-mnist --threads 2 [--epochs 1]
      [--limit-train-batches N]

--limit-train-batches N trains the first N batches of each epoch's shuffle (0: all), as lhost's
trainer.limit_train_batches; validation always covers the 10k test images.
Prints one JSON line per epoch: train_s, val_s, val_acc, peak_rss_mib, train_batches.
"""
import argparse, gzip, json, os, resource, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(d, split, mean=0.2860, std=0.3530):
    def find(stem):
        for n in (stem + ".gz", stem):
            if os.path.exists(os.path.join(d, n)):
                return os.path.join(d, n)
        raise SystemExit(f"missing {stem} in {d}")
    x = read_idx(find(f"{split}-images-idx3-ubyte"))
    y = read_idx(find(f"{split}-labels-idx1-ubyte"))
    x = (torch.from_numpy(x.copy()).float().unsqueeze(1) / 255 - mean) / std
    return x, torch.from_numpy(y.astype(np.int64))


def block(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.fc = block(1, 64), block(64, 128), nn.Linear(6272, 10)

    def forward(self, x):
        return self.fc(self.conv2(self.conv1(x)).flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit-train-batches", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    (xt, yt), (xv, yv) = load(a.data, "train"), load(a.data, "t10k")
    m = Net()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        m.train()
        perm = torch.randperm(len(xt))
        n = len(xt) if a.limit_train_batches <= 0 else min(len(xt), 64 * a.limit_train_batches)
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(m(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        t1 = time.perf_counter()
        m.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xv), 64):
                correct += (m(xv[i:i + 64]).argmax(1) == yv[i:i + 64]).sum().item()
        t2 = time.perf_counter()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"epoch": ep, "train_s": round(t1 - t0, 2), "val_s": round(t2 - t1, 2),
                          "val_acc": correct / len(xv), "peak_rss_mib": round(rss, 1),
                          "train_batches": (n + 63) // 64}), flush=True)


if __name__ == "__main__":
    main()
