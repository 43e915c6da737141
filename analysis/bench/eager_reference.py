#!/usr/bin/python3
"""The bench configuration's meta-training loop written plainly in eager PyTorch: the
reference `croma bench` is compared against (analysis/bench/compare.sh).

Same shapes and steps as croma: source 512-d, target 128-d, embedding 256; encoders
Linear(d,256)-ReLU-Linear(256,256); classifier Linear(256,256)-ReLU-Linear(256,5); per
meta-iteration one alignment episode (5 inner Adam steps, minibatch 8, margin loss on
normalised embeddings) and one source-classification episode (5 inner Adam steps,
minibatch 8, phi over embeddings from the meta source encoder); fresh Adam per episode;
Reptile epsilon 0.1. Prints one JSON line like `croma bench`.
"""
import argparse
import copy
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WAYS, SHOTS, INNER_STEPS, BATCH = 5, 5, 5, 8
SOURCE_DIM, TARGET_DIM, HIDDEN, EMBED = 512, 128, 256, 256


def mlp(d_in, d_hidden, d_out):
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))


class Croma(nn.Module):
    def __init__(self):
        super().__init__()
        self.e_s = mlp(SOURCE_DIM, HIDDEN, EMBED)
        self.e_t = mlp(TARGET_DIM, HIDDEN, EMBED)
        self.phi = mlp(EMBED, HIDDEN, WAYS)

    def embed_s(self, x):
        return F.normalize(self.e_s(x), dim=1)

    def embed_t(self, x):
        return F.normalize(self.e_t(x), dim=1)

    def classify(self, z):
        return self.phi(z * math.sqrt(EMBED))


def margin_loss(zs, zt, margin=0.1):
    s = zs @ zt.t()
    pos = torch.eye(s.shape[0])
    neg = 1 - pos
    hinge = torch.relu(margin - s.unsqueeze(2) + s.unsqueeze(1)) * pos.unsqueeze(2) * neg.unsqueeze(1)
    return hinge.sum((1, 2)).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    classes, per_class = 28, 30
    xs_all = torch.randn(classes * per_class, SOURCE_DIM)
    xt_all = torch.randn(classes * per_class, TARGET_DIM)
    meta = Croma()
    eps = 0.1

    def iteration():
        # Alignment episode: N classes x K pairs, fast copies of both encoders.
        cls = torch.randperm(classes)[:WAYS]
        idx = torch.cat([c * per_class + torch.randperm(per_class)[:SHOTS] for c in cls])
        xs, xt = xs_all[idx], xt_all[idx]
        fast = copy.deepcopy(meta)
        params = list(fast.e_s.parameters()) + list(fast.e_t.parameters())
        opt = torch.optim.Adam(params, lr=1e-2)
        for _ in range(INNER_STEPS):
            rows = torch.randperm(len(idx))[:BATCH]
            loss = margin_loss(fast.embed_s(xs[rows]), fast.embed_t(xt[rows]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        new_encoders = [p.detach().clone() for p in params]
        # Classification episode: phi over embeddings from the meta source encoder.
        cls = torch.randperm(classes)[:WAYS]
        idx = torch.cat([c * per_class + torch.randperm(per_class)[:SHOTS] for c in cls])
        labels = torch.arange(WAYS).repeat_interleave(SHOTS)
        with torch.no_grad():
            z = meta.embed_s(xs_all[idx])
        phi = copy.deepcopy(meta.phi)
        opt = torch.optim.Adam(phi.parameters(), lr=1e-2)
        for _ in range(INNER_STEPS):
            rows = torch.randperm(len(idx))[:BATCH]
            loss = F.cross_entropy(phi(z[rows] * math.sqrt(EMBED)), labels[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            for p, q in zip(list(meta.e_s.parameters()) + list(meta.e_t.parameters()), new_encoders):
                p.add_(eps * (q - p))
            for p, q in zip(meta.phi.parameters(), phi.parameters()):
                p.add_(eps * (q - p))

    for _ in range(20):
        iteration()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        iteration()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(json.dumps({"command": "eager-reference", "meta_iterations": args.steps,
                      "meta_iterations_per_s": args.steps / wall,
                      "meta_iterations_per_cpu_s": args.steps / cpu,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
