"""The deploy gate's hand-made cases, scored by scipy.

Run: python scripts/reference/training_gate.py
Prints, per case, the relative improvement and scipy.stats.ttest_rel's
t and p for the challenger's per-sample losses against the champion's; the
numbers are pasted into src/training/gate/tests.rs.
"""
import scipy
from scipy import stats

CHAMPION = [0.8, 1.2, 0.9, 1.1, 1.0, 1.0, 0.7, 1.3, 0.95, 1.05]  # mean 1.0


def challenger(mean_gain, spread):
    # gains alternate mean_gain - spread, mean_gain + spread: mean exactly mean_gain
    gains = [mean_gain + (spread if i % 2 else -spread) for i in range(len(CHAMPION))]
    return [c - g for c, g in zip(CHAMPION, gains)]


CASES = {
    "four_percent_consistent": challenger(0.04, 0.01),
    "six_percent_consistent": challenger(0.06, 0.03),
    "six_percent_noisy": challenger(0.06, 0.5),
    "six_percent_worse": challenger(-0.06, 0.03),
}

print("scipy", scipy.__version__)
for name, new in CASES.items():
    mc, mn = sum(CHAMPION) / len(CHAMPION), sum(new) / len(new)
    r = stats.ttest_rel(new, CHAMPION)
    print(f"{name}: improvement={(mc - mn) / mc!r} t={r.statistic!r} p={r.pvalue!r}")
