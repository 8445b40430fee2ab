"""The PyTorch twin of benches/training.rs's training step, on this machine.

One AdamW step (lr 1e-3, weight decay 0.01) of a 16-64-64-1 ReLU MLP on a
batch of 64 with MSE: zero the gradients, forward, loss, backward, step.
One thread (kaizen's benches run candle with RAYON_NUM_THREADS=1).

Run: python scripts/reference/torch_training_step.py
Prints the median time per step over 15 rounds of 2,000 steps.
"""
import statistics
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(1)
model = torch.nn.Sequential(
    torch.nn.Linear(16, 64), torch.nn.ReLU(),
    torch.nn.Linear(64, 64), torch.nn.ReLU(),
    torch.nn.Linear(64, 1),
)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
x = torch.rand(64, 16) * 2 - 1
y = (x * (torch.arange(16.0) - 7.5)).sum(1, keepdim=True)
loss_fn = torch.nn.MSELoss()


def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


for _ in range(2000):
    step()
rounds = []
for _ in range(15):
    t = time.perf_counter()
    for _ in range(2000):
        step()
    rounds.append((time.perf_counter() - t) / 2000)
print(f"torch {torch.__version__}, 1 thread: median {statistics.median(rounds) * 1e6:.1f} µs per step "
      f"(min {min(rounds) * 1e6:.1f}, max {max(rounds) * 1e6:.1f})")
