"""Learning rates PyTorch's ReduceLROnPlateau gives for kaizen's test metrics.

Run: python scripts/reference/reduce_lr_on_plateau.py
The printed lists are pasted into src/training/schedule.rs
(`matches_pytorch_reduce_lr_on_plateau`). Checked with torch 2.15.0 (PyPI).
"""
import math

import torch

CASES = [
    ({}, [1.0, 0.99995] + [1.0] * 11 + [0.5]),
    (dict(patience=1, cooldown=2, factor=0.5, min_lr=0.2), [3.0] * 11),
    (dict(patience=0, threshold=0.1), [10.0, 9.5, 8.9, 8.1, 8.0, math.nan]),
]

print("torch", torch.__version__)
for kwargs, metrics in CASES:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", **kwargs)
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    print(kwargs, [repr(x) for x in lrs])
