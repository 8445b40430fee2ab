"""Reference numbers for src/models/tests/check.rs: scipy's paired t-test of the champion's
live losses against the previous champion's.

    pip install scipy && python3 scripts/reference/models_check_reference.py
"""
from scipy import stats

PREVIOUS = [1.0, 1.1, 0.9, 1.0]
for name, champion in [
    ("WORSE", [1.5, 1.7, 1.4, 1.6]),
    ("BETTER", [0.5, 0.5, 0.4, 0.4]),
    ("NOISE", [1.1, 1.0, 1.0, 1.0]),
]:
    r = stats.ttest_rel(champion, PREVIOUS)
    print(f"{name}: t = {float(r.statistic)!r}, p = {float(r.pvalue)!r}")
