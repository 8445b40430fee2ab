#!/usr/bin/env python3
"""Reference numbers for kaizen::stats, computed independently with scipy
(and mpmath where a distribution's own values are checked to 1e-12).

Usage:  python3 scripts/reference/stats_reference.py SECTION > tests/data/stats/SECTION.json
SECTION is one of: significance, abtest, offpolicy.

Without scipy on the interpreter, the script makes a virtual environment
under /tmp, installs numpy, scipy and mpmath into it with pip, and runs itself again
there. Every case is generated from a fixed seed, so the output is the same on
every run with the same scipy (the committed files name the versions).
"""

import json
import os
import subprocess
import sys

VENV = "/tmp/kaizen-stats-venv"


def ensure_scipy():
    try:
        import numpy  # noqa: F401
        import scipy  # noqa: F401
        import mpmath  # noqa: F401
    except ImportError:
        python = os.path.join(VENV, "bin", "python")
        if os.environ.get("KAIZEN_STATS_REEXEC"):
            sys.exit("scipy is still missing inside " + VENV)
        if not os.path.exists(python):
            subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "numpy", "scipy", "mpmath"])
        env = dict(os.environ, KAIZEN_STATS_REEXEC="1")
        os.execve(python, [python] + sys.argv, env)


ensure_scipy()

import numpy as np  # noqa: E402
import mpmath as mp  # noqa: E402
import scipy  # noqa: E402
from scipy import stats  # noqa: E402


def short(values):
    """Values rounded to 9 significant digits (keeps the file small; the
    reference numbers are computed from the rounded values)."""
    return [float(f"{v:.9g}") for v in values]


def significance_case(name, baseline, new, alpha):
    """The seed's statistical_significance_test, with scipy, plus the paired
    interval for paired tests."""
    b = np.asarray(short(baseline), dtype=float)
    n = np.asarray(short(new), dtype=float)
    if len(b) == len(n):
        t, p = stats.ttest_rel(n, b)
        test_type = "paired_t_test"
    else:
        t, p = stats.ttest_ind(n, b, equal_var=True)
        test_type = "independent_t_test"
    nb, nn = len(b), len(n)
    pooled_std = np.sqrt(((nb - 1) * np.var(b) + (nn - 1) * np.var(n)) / (nb + nn - 2))
    diff = np.mean(n) - np.mean(b)
    spread = np.sqrt(np.var(n) / nn + np.var(b) / nb)
    lo, hi = stats.t.interval(1 - alpha, nb + nn - 2, loc=diff, scale=spread)
    out = {
        "name": name,
        "baseline": b.tolist(),
        "new": n.tolist(),
        "alpha": alpha,
        "test_type": test_type,
        "t_statistic": float(t),
        "p_value": float(p),
        "significant": bool(p < alpha),
        "effect_size": float(diff / pooled_std),
        "confidence_interval": [float(lo), float(hi)],
        "mean_improvement": float(diff),
    }
    if test_type == "paired_t_test":
        d = n - b
        plo, phi = stats.t.interval(1 - alpha, len(d) - 1, loc=np.mean(d), scale=stats.sem(d))
        out["paired_confidence_interval"] = [float(plo), float(phi)]
    return out


def significance():
    rng = np.random.default_rng(20240612)
    cases = []

    def add(name, baseline, new, alpha=0.05):
        cases.append(significance_case(name, baseline, new, alpha))

    # Paired, small n.
    add("paired n=2", [0.3, 0.5], [0.1, 0.6])
    add("paired n=3", [1.0, 2.0, 3.0], [1.5, 2.1, 3.9])
    for n in (4, 5, 8, 13):
        base = rng.normal(1.0, 0.2, n)
        add(f"paired n={n} losses", base, base - 0.05 + rng.normal(0, 0.05, n))
    # Paired, tiny and huge t.
    base = rng.normal(0.0, 1.0, 40)
    noise = rng.normal(0.0, 1.0, 40)
    add("paired tiny t", base, base + noise - noise.mean() + 1e-7)
    add("paired huge t", base, base + 5.0 + 1e-6 * rng.normal(0, 1, 40))
    add("paired negative huge t", base, base - 3.0 + 1e-4 * rng.normal(0, 1, 40), 0.01)
    # Paired, large n and other levels.
    base = rng.gamma(2.0, 0.5, 2000)
    add("paired n=2000 skewed", base, base * 0.98 + rng.normal(0, 0.1, 2000), 0.01)
    base = rng.normal(1e6, 10.0, 50)
    add("paired offset 1e6", base, base + 0.3 + rng.normal(0, 1.0, 50), 0.1)
    base = rng.normal(0.0, 1e-8, 30)
    add("paired scale 1e-8", base, base + rng.normal(2e-9, 1e-9, 30), 0.2)
    add("paired integers", [3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8], 1e-4)
    # Independent, small and unequal n.
    add("independent 2 vs 3", [1.0, 3.0], [4.0, 5.0, 6.0])
    add("independent 3 vs 2", [4.0, 5.0, 6.0], [1.0, 3.0])
    add("independent one constant side", [1.0, 1.0], [2.0, 2.5, 3.0])
    add("independent 5 vs 50", rng.normal(0, 1, 5), rng.normal(0.5, 1, 50))
    add("independent 50 vs 5", rng.normal(0, 1, 50), rng.normal(0.5, 1, 5), 0.01)
    add("independent 7 vs 9", rng.exponential(1.0, 7), rng.exponential(1.3, 9), 0.1)
    a = rng.normal(0, 1, 60)
    b = rng.normal(0, 1, 61)
    add("independent tiny t", a - a.mean(), b - b.mean() + 1e-9)
    add("independent huge t", rng.normal(0, 1e-3, 20), rng.normal(10, 1e-3, 21))
    add("independent 3000 vs 2500", rng.normal(0.5, 0.3, 3000), rng.normal(0.49, 0.3, 2500), 0.05)
    add("independent 1000 vs 999 alpha 0.2", rng.normal(0, 2, 1000), rng.normal(0.1, 2, 999), 0.2)

    # Student's t tails and quantiles on their own, from mpmath at 40 digits
    # (scipy's own tail is off by 1.6e-9 at t = 1e-8, df = 1).
    mp.mp.dps = 40

    def mp_sf(t, df):
        """P(T > t): mpmath's incomplete beta, or, where its series does not
        converge (df of 1e5 and more), the integral of the density."""
        t, df = mp.mpf(t), mp.mpf(df)
        try:
            return mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
        except mp.libmp.NoConvergence:
            pass
        log_norm = mp.loggamma((df + 1) / 2) - mp.loggamma(df / 2) - mp.log(df * mp.pi) / 2

        def pdf(s):
            return mp.exp(log_norm - (df + 1) / 2 * mp.log1p(s * s / df))

        if t < 1:
            return mp.mpf(1) / 2 - mp.quad(pdf, [0, t])
        cuts = [t * (1 + mp.mpf(k) / 64) for k in range(0, 65)] + [4 * t, mp.inf]
        return mp.quad(pdf, cuts)

    dfs = [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 29.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e9]
    ts = [1e-8, 0.01, 0.5, 1.0, 1.7, 1.75, 2.0, 3.0, 5.0, 10.0, 40.0, 1e3, 1e10]
    tails = []
    for df in dfs:
        for t in ts:
            sf = float(mp_sf(t, df))
            if sf > 1e-300:
                tails.append({"df": df, "t": t, "sf": sf})
    qs = [0.45, 0.25, 0.1, 0.05, 0.025, 0.005, 1e-5, 1e-10, 1e-30]
    quantiles = []
    for df in dfs:
        for q in qs:
            guess = mp.mpf(float(stats.t.isf(q, df)))
            isf = mp.findroot(lambda t: mp_sf(t, df) - q, guess, tol=mp.mpf(10) ** -35)
            quantiles.append({"df": df, "q": q, "isf": float(isf)})

    return {
        "generator": "scripts/reference/stats_reference.py significance",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "cases": cases,
        "mpmath": mp.__version__,
        "student_t_tails": tails,
        "student_t_quantiles": quantiles,
    }


def abtest():
    """A stream of outcomes on an irregular arm schedule; after every outcome,
    the mixture e-value, confidence sequence and decision recomputed from the
    raw prefix with numpy (not by streaming), plus the closed-form Bayes
    factor checked against a numerical double integral over sigma and the
    standardised uplift."""
    from scipy import integrate, optimize

    alpha, delta, tuned_for = 0.05, 0.1, 200
    two_l = 2 * np.log(1 / alpha)
    c_opt = optimize.brentq(lambda c: c - 1 - np.log(c) - two_l, 1.0 + 1e-9, 100.0, xtol=1e-15)
    g = (c_opt - 1) / (tuned_for / 4)

    rng = np.random.default_rng(77)
    n_total = 120
    arms = np.where(rng.random(n_total) < 0.35, 1, 0)  # 1 = challenger
    arms[:2] = [0, 1]
    values = rng.normal(1.0, 1.0, n_total) + 0.8 * arms
    values = np.asarray(short(values))

    def stats_of(k):
        z, y = arms[:k], values[:k]
        if z.sum() == 0 or z.sum() == k or k < 3:
            return None
        design = np.column_stack([np.ones(k), z])
        coef, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
        rss = float(np.sum((y - design @ coef) ** 2))
        info = 1.0 / np.linalg.inv(design.T @ design)[1, 1]
        return {"n": k, "uplift": float(coef[1]), "rss": rss, "info": float(info)}

    def log_bf(st, theta0):
        n, nu = st["n"], st["n"] - 2
        s = np.sqrt(st["rss"] / nu)
        t2 = ((st["uplift"] - theta0) * np.sqrt(st["info"]) / s) ** 2
        c = 1 + g * st["info"]
        return -0.5 * np.log(c) + 0.5 * (n - 1) * (np.log1p(t2 / nu) - np.log1p(t2 / (nu * c)))

    def integral_bf(st, theta0):
        """m1/m0 with u = (uplift - theta0) sqrt(I), prior d(sigma)/sigma,
        standardised uplift ~ N(0, g): numerically, sigma = sigma0 e^s."""
        nu = st["n"] - 2
        u = (st["uplift"] - theta0) * np.sqrt(st["info"])
        sigma0 = np.sqrt(st["rss"] / nu)
        big_i = st["info"]

        def log_common(s):
            sigma = sigma0 * np.exp(s)
            return -(nu + 1) * np.log(sigma) - st["rss"] / (2 * sigma**2)

        ref = log_common(0.0)

        def f0(s):
            sigma = sigma0 * np.exp(s)
            return np.exp(log_common(s) - ref - u**2 / (2 * sigma**2))

        def f1(d, s):
            sigma = sigma0 * np.exp(s)
            gauss = np.exp(-d * d / (2 * g)) / np.sqrt(2 * np.pi * g)
            return np.exp(log_common(s) - ref - (u - sigma * d * np.sqrt(big_i)) ** 2 / (2 * sigma**2)) * gauss

        m0 = integrate.quad(f0, -12, 12, epsabs=0, epsrel=1e-13, limit=400)[0]
        width = 14 * np.sqrt(g)
        m1 = integrate.dblquad(f1, -12, 12, -width, width, epsabs=0, epsrel=1e-12)[0]
        return m1 / m0

    def cs(st):
        n = st["n"]
        c = 1 + g * st["info"]
        if 0.5 * (n - 2) * np.log(c) <= np.log(1 / alpha):  # sup of the factor
            return [None, None]
        s = np.sqrt(st["rss"] / (n - 2))
        f = lambda th: log_bf(st, th) - np.log(1 / alpha)  # noqa: E731
        span = 1.0
        while f(st["uplift"] + span) < 0:
            span *= 2
        radius = optimize.brentq(lambda r: f(st["uplift"] + r), 0.0, span, xtol=1e-15, rtol=1e-15)
        assert s >= 0
        return [st["uplift"] - radius, st["uplift"] + radius]

    steps = []
    checked = 0
    for k in range(1, n_total + 1):
        st = stats_of(k)
        row = {"arm": "challenger" if arms[k - 1] else "serving", "value": float(values[k - 1])}
        if st is None:
            z, y = arms[:k], values[:k]
            both = 0 < z.sum() < k
            uplift = float(y[z == 1].mean() - y[z == 0].mean()) if both else None
            row.update(evidence=1.0, uplift=uplift, confidence_sequence=[None, None], decision="continue")
        else:
            ev = float(np.exp(log_bf(st, delta))) if st["uplift"] > delta else float(np.exp(log_bf(st, st["uplift"])))
            lo_hi = cs(st)
            if ev >= 1 / alpha:
                decision = "promote"
            elif lo_hi[1] is not None and lo_hi[1] < delta:
                decision = "hold"
            else:
                decision = "continue"
            row.update(evidence=ev, uplift=st["uplift"], confidence_sequence=lo_hi, decision=decision)
            if st["uplift"] > delta and k in (6, 12, 30, 60, 90, 120):
                row["integral_evidence"] = integral_bf(st, delta)
                assert abs(row["integral_evidence"] / ev - 1) < 1e-8, (k, row["integral_evidence"], ev)
                checked += 1
        steps.append(row)
    assert checked >= 3, checked
    return {
        "generator": "scripts/reference/stats_reference.py abtest",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "config": {"alpha": alpha, "min_effect": delta, "tuned_for": tuned_for},
        "g": g,
        "steps": steps,
    }


def offpolicy():
    """IPS, SNIPS and doubly robust estimates with normal intervals on seeded
    logged-bandit data, from the published formulas with numpy/scipy."""
    rng = np.random.default_rng(11)
    cases = []
    for n, alpha, skew in [(2, 0.05, 1.0), (5, 0.1, 1.0), (200, 0.05, 1.0), (1000, 0.01, 3.0)]:
        propensity = np.asarray(short(rng.uniform(0.02, 1.0, n) ** skew))
        propensity = np.clip(propensity, 1e-3, 1.0)
        target = np.asarray(short(rng.uniform(0.0, 1.0, n)))
        target[rng.random(n) < 0.2] = 0.0
        target[0] = 0.7  # at least one action the candidate takes
        reward = np.asarray(short(rng.normal(1.0, 2.0, n)))
        q_logged = np.asarray(short(reward + rng.normal(0.0, 1.0, n)))
        v_target = np.asarray(short(rng.normal(1.0, 0.5, n)))
        w = target / propensity
        z = stats.norm.ppf(1 - alpha / 2)

        def entry(value, se):
            return {"value": float(value), "std_error": float(se), "confidence_interval": [float(value - z * se), float(value + z * se)]}

        ips_terms = w * reward
        snips_value = np.sum(w * reward) / np.sum(w)
        dr_terms = v_target + w * (reward - q_logged)
        cases.append({
            "alpha": alpha,
            "log": [{"propensity": float(p), "target_probability": float(t), "reward": float(r)} for p, t, r in zip(propensity, target, reward)],
            "predictions": [{"logged_action": float(q), "target_policy": float(v)} for q, v in zip(q_logged, v_target)],
            "effective_sample_size": float(np.sum(w) ** 2 / np.sum(w**2)),
            "ips": entry(np.mean(ips_terms), np.std(ips_terms, ddof=1) / np.sqrt(n)),
            "snips": entry(snips_value, np.sqrt(np.sum(w**2 * (reward - snips_value) ** 2)) / np.sum(w)),
            "doubly_robust": entry(np.mean(dr_terms), np.std(dr_terms, ddof=1) / np.sqrt(n)),
        })
    return {
        "generator": "scripts/reference/stats_reference.py offpolicy",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "cases": cases,
    }


SECTIONS = {"significance": significance, "abtest": abtest, "offpolicy": offpolicy}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SECTIONS:
        sys.exit("usage: stats_reference.py {" + ",".join(SECTIONS) + "}")
    json.dump(SECTIONS[sys.argv[1]](), sys.stdout, indent=1)
    sys.stdout.write("\n")
