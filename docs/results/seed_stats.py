"""Per-seed records of a study folder and their statistics (shared by the study folders' summarise.py).

A record is ``<folder>/<run>-s<seed>.json`` with the keys of ``KEYS`` (cocu's synthetic diagnostics
on the ADE-like split, plus ``voc_miou``); differences are paired by seed, with 95 % Student-t
intervals."""
import json
import math
import os
import statistics as st

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       11: 2.201}  # two-sided 95 % t quantiles by df
KEYS = ("miou", "voc_miou", "object_miou", "stuff_miou", "grouping_miou", "naming_accuracy", "groups_in_use")
# the records since stop 17 (``diag17.py``): zero-shot keys with the synthetic protocol's gate ("groups") and, for
# ``image_*`` / ``voc_image_miou``, the official one (the image embedding), plus the object-only diagnostics
GATE_KEYS = ("miou", "voc_miou", "object_miou", "stuff_miou", "image_miou", "voc_image_miou", "image_object_miou",
             "grouping_miou", "object_grouping_miou", "naming_accuracy", "object_naming_accuracy", "groups_in_use",
             "image_recall")


def recs(folder, name, seeds=range(10)):
    """{seed: record} of run ``name`` in ``folder`` (those of ``seeds`` that exist); ``name`` may be a tuple of
    names whose seeds are pooled (the first name holding a seed gives its record)."""
    out = {}
    for n in (name,) if isinstance(name, str) else name:
        out.update({s: json.load(open(f"{folder}/{n}-s{s}.json")) for s in seeds
                    if s not in out and os.path.exists(f"{folder}/{n}-s{s}.json")})
    return dict(sorted(out.items()))


def summary(folder, name, seeds=range(10), keys=KEYS):
    """Seeds, per-seed values, means and stds of run ``name``."""
    r = recs(folder, name, seeds)
    return {"seeds": sorted(r), "per_seed": {k: [round(r[s][k], 3) for s in sorted(r)] for k in keys},
            "mean": {k: round(st.mean(r[s][k] for s in r), 3) for k in keys},
            "std": {k: round(st.stdev(r[s][k] for s in r), 3) if len(r) > 1 else None for k in keys}}


def paired(folder, a, b, seeds=range(10), keys=KEYS):
    """Run ``a`` − run ``b`` over their common seeds: per-seed differences, mean, std, 95 % interval."""
    return paired_pooled(folder, [(a, b)], seeds, keys)


def paired_pooled(folder, pairs, seeds=range(10), keys=KEYS):
    """Like ``paired``, with the differences of several (a, b) run pairs pooled into one sample."""
    diffs = []
    for a, b in pairs:
        ra, rb = recs(folder, a, seeds), recs(folder, b, seeds)
        diffs += [(s, ra[s], rb[s]) for s in sorted(set(ra) & set(rb))]
    out = {"seeds": [s for s, _, _ in diffs]}
    for k in keys:
        d = [x[k] - y[k] for _, x, y in diffs]
        m, sd = st.mean(d), st.stdev(d)
        h = T95[len(d) - 1] * sd / math.sqrt(len(d))
        out[k] = {"per_seed": [round(x, 3) for x in d], "mean": round(m, 3), "std": round(sd, 3),
                  "ci95": [round(m - h, 3), round(m + h, 3)]}
    return out


def section(folder, arms, pairs, seeds=range(10), keys=KEYS, min_seeds=2):
    """``{"runs", "paired"}`` of the labelled runs ``arms`` ({label: run}; those with ≥ ``min_seeds`` records) and
    of the label pairs ``pairs`` ((a, b): a − b) that share at least two seeds."""
    arms = {k: v for k, v in arms.items() if len(recs(folder, v, seeds)) >= min_seeds}
    shared = lambda a, b: len(set(recs(folder, arms[a], seeds)) & set(recs(folder, arms[b], seeds))) > 1
    return {"runs": {k: {"records": v, **summary(folder, v, seeds, keys)} for k, v in arms.items()},
            "paired": {f"{a} − {b}": paired(folder, arms[a], arms[b], seeds, keys) for a, b in pairs
                       if a in arms and b in arms and shared(a, b)}}


def gap_share(paired, model_gap, oracle_gap, key="miou"):
    """The share of the baseline → oracle gap a model closes: the mean of the paired differences ``model_gap``
    (model − baseline) over that of ``oracle_gap`` (oracle − baseline), two keys of a section's ``paired``;
    None when either is missing."""
    if model_gap not in paired or oracle_gap not in paired:
        return None
    return round(paired[model_gap][key]["mean"] / paired[oracle_gap][key]["mean"], 3)


RUN_COLS = (("ADE", "miou"), ("VOC", "voc_miou"), ("object", "object_miou"), ("grouping", "grouping_miou"),
            ("naming", "naming_accuracy"), ("groups", "groups_in_use"))
PAIR_COLS = (("ADE", "miou"), ("VOC", "voc_miou"), ("object", "object_miou"), ("naming", "naming_accuracy"))


def print_section(sec):
    """Print a ``section``: each run's means ± std, each pair's mean difference and 95 % interval."""
    width = max(map(len, sec["runs"]), default=0)
    for k, v in sec["runs"].items():
        m, s = v["mean"], v["std"]
        print(f"{k:{width}s} n={len(v['seeds'])} " + "  ".join(
            f"{n} {m[key]:.2f} ± {s[key] or 0:.2f}" for n, key in RUN_COLS if key in m))
    for k, p in sec["paired"].items():
        print(f"{k} (seeds {p['seeds']}): " + "; ".join(
            f"{n} {p[key]['mean']:+.2f} [{p[key]['ci95'][0]:+.2f}, {p[key]['ci95'][1]:+.2f}]"
            for n, key in PAIR_COLS if key in p))
