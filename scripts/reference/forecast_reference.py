#!/usr/bin/env python3
"""Reference numbers for kaizen's ROI forecaster (src/forecast/), from statsmodels.

Usage (from the repository root):

    python3 scripts/reference/forecast_reference.py > tests/data/forecast/statsmodels.json
    python3 scripts/reference/forecast_reference.py --regenerate-histories   # rarely: new inputs

The script re-executes itself inside a virtual environment under /tmp that it
creates and fills with pinned versions from PyPI, so the numbers do not depend
on what the machine has installed.

For every committed history in tests/data/forecast/histories.json it prints:
- "arima" histories (20 points or more): every candidate ARIMA(p, d, q) with
  p, q <= 2 and d in {0, 1} fitted by statsmodels' `ARIMA` (exact Gaussian
  likelihood by its state-space Kalman filter, stationarity and invertibility
  enforced), a constant mean for d = 0 (trend "c") and a drift for d = 1
  (trend "t", the same as a constant in the differenced series); each with its
  log-likelihood, AIC, parameters and one-step forecast with a 95% interval;
  and the candidate with the smallest AIC ("selected"), as kaizen chooses;
- "linear" histories (under 20 points): an OLS fit of the values on their
  index 0..n-1 and its 95% prediction interval for index n;
and "student_t_975": scipy's 0.975 quantile of Student's t for the degrees
of freedom the linear fallback uses (its prediction interval's multiplier).
"""

import json
import os
import subprocess
import sys
import warnings

VENV = "/tmp/kaizen-forecast-reference-venv"
PINS = ["numpy==2.4.6", "scipy==1.17.1", "pandas==3.1.1", "statsmodels==0.14.6"]
HERE = os.path.dirname(os.path.abspath(__file__))
HISTORIES = os.path.join(HERE, "..", "..", "tests", "data", "forecast", "histories.json")
MIN_ARIMA_POINTS = 20


def ensure_venv():
    """Re-run this script with the pinned environment's interpreter."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + PINS,
        stdout=sys.stderr,
    )
    os.execv(python, [python] + sys.argv)


def regenerate_histories():
    """Writes the committed inputs (seeded; rounded to 6 decimals)."""
    import numpy as np

    rng = np.random.default_rng(20240516)

    def arma(n, mean, ar, ma, scale, burn=200):
        e = rng.normal(scale=scale, size=n + burn)
        x = np.zeros(n + burn)
        for t in range(n + burn):
            v = e[t]
            for j, phi in enumerate(ar, 1):
                if t - j >= 0:
                    v += phi * x[t - j]
            for j, theta in enumerate(ma, 1):
                if t - j >= 0:
                    v += theta * e[t - j]
            x[t] = v
        return mean + x[burn:]

    def roi_deltas(n, scale):
        # Mostly small deltas, heavy-tailed noise, mild autocorrelation,
        # rare large jumps and a regime change two thirds of the way in.
        level = np.where(np.arange(n) < 2 * n // 3, 0.02, -0.01)
        noise = rng.standard_t(3, size=n) * 0.05
        x = np.zeros(n)
        for t in range(n):
            x[t] = noise[t] + (0.3 * x[t - 1] if t else 0.0)
        jumps = (rng.random(n) < 0.03) * rng.normal(scale=0.5, size=n)
        return scale * (level + x + jumps)

    t = np.arange(100)
    histories = {
        "ar1": arma(200, 0.5, [0.6], [], 1.0),
        "ma1": arma(150, 0.1, [], [0.5], 1.0),
        "arma21": arma(300, -0.2, [0.5, -0.3], [0.4], 1.0),
        "random_walk_drift": 10.0 + np.cumsum(0.2 + rng.normal(size=120)),
        "noisy_trend": 2.0 + 0.05 * t + rng.normal(size=100),
        "roi_deltas": roi_deltas(250, 1.0),
        "roi_deltas_small_long": roi_deltas(1000, 1e-3),
        "short_trend": 1.0 + 0.3 * np.arange(12) + rng.normal(scale=0.5, size=12),
        "short_noise": rng.normal(loc=0.05, scale=0.2, size=19),
    }
    out = {name: [round(float(v), 6) for v in values] for name, values in histories.items()}
    with open(HISTORIES, "w") as f:
        f.write("{\n")
        f.write(",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in out.items()))
        f.write("\n}\n")


def fit_arima(y, p, d, q):
    from statsmodels.tsa.arima.model import ARIMA

    trend = "c" if d == 0 else "t"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = ARIMA(y, order=(p, d, q), trend=trend).fit()
    fc = res.get_forecast(1)
    lower, upper = fc.conf_int(alpha=0.05)[0]
    return {
        "order": [p, d, q],
        "llf": float(res.llf),
        "aic": float(res.aic),
        "params": dict(zip(res.param_names, map(float, res.params))),
        "forecast": float(fc.predicted_mean[0]),
        "lower": float(lower),
        "upper": float(upper),
        "converged": bool(res.mle_retvals.get("converged", False)),
        "warnings": sorted({str(w.category.__name__) for w in caught}),
    }


def fit_linear(y):
    import numpy as np
    import statsmodels.api as sm

    n = len(y)
    x = sm.add_constant(np.arange(n, dtype=float))
    res = sm.OLS(y, x).fit()
    frame = res.get_prediction(np.array([[1.0, float(n)]])).summary_frame(alpha=0.05)
    return {
        "forecast": float(frame["mean"][0]),
        "lower": float(frame["obs_ci_lower"][0]),
        "upper": float(frame["obs_ci_upper"][0]),
        "intercept": float(res.params[0]),
        "slope": float(res.params[1]),
    }


def main():
    import numpy as np
    import scipy
    import scipy.stats
    import statsmodels

    with open(HISTORIES) as f:
        histories = json.load(f)
    out = {
        "generator": "scripts/reference/forecast_reference.py",
        "versions": {
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "histories": {},
        "student_t_975": {
            str(df): float(scipy.stats.t.ppf(0.975, df))
            for df in list(range(1, 31)) + [50, 100, 997]
        },
    }
    for name, values in histories.items():
        y = np.asarray(values, dtype=float)
        entry = {"n": len(y), "std": float(np.std(y, ddof=1))}
        if len(y) < MIN_ARIMA_POINTS:
            entry["method"] = "linear"
            entry["linear"] = fit_linear(y)
        else:
            entry["method"] = "arima"
            candidates = [
                fit_arima(y, p, d, q) for d in (0, 1) for p in range(3) for q in range(3)
            ]
            best = min(candidates, key=lambda c: c["aic"])
            entry["candidates"] = candidates
            entry["selected"] = {
                k: best[k] for k in ("order", "aic", "forecast", "lower", "upper")
            }
        out["histories"][name] = entry
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    ensure_venv()
    if "--regenerate-histories" in sys.argv[1:]:
        regenerate_histories()
    else:
        main()
