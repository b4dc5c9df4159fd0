"""python docs/results/stop17_evals/summarise.py docs/results/stop17.json: per-seed records, means ± std and paired
statistics of stop 17: stop 16's ``region_local`` runs evaluated again with both top-k gates (``local-*``), and the
same recipe with 8 final groups (``g8-*``). Zero-shot keys (``miou``, ``object_miou``, ``stuff_miou``, ``voc_miou``)
use the synthetic protocol's gate ("groups"); ``image_*`` / ``voc_image_miou`` the official one (the image embedding)."""
import json, os, sys
from functools import partial
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
KEYS = ("miou", "voc_miou", "object_miou", "stuff_miou", "image_miou", "voc_image_miou", "image_object_miou",
        "grouping_miou", "object_grouping_miou", "naming_accuracy", "object_naming_accuracy", "groups_in_use",
        "image_recall")
recs = partial(seed_stats.recs, HERE)
summary, paired = (partial(f, HERE, keys=KEYS) for f in (seed_stats.summary, seed_stats.paired))
MODELS = {f"{regime}, {groups} groups": f"{prefix}-{regime}" for groups, prefix in ((4, "local"), (8, "g8"))
          for regime in ("baseline", "cocu", "oracle")}
PAIRS = [(f"{g}, {n} groups", f"baseline, {n} groups") for n in (4, 8) for g in ("cocu", "oracle")] + [
    (f"oracle, {n} groups", f"cocu, {n} groups") for n in (4, 8)] + [
    (f"{g}, 8 groups", f"{g}, 4 groups") for g in ("baseline", "cocu", "oracle")]
models = {k: v for k, v in MODELS.items() if len(recs(v)) > 1}
out = {"note": "tiny preset, 24k samples per run, the grounded recipe (isolated_groups = region_local), bf16 "
               "autocast (AMD EPYC with AVX512-BF16), OMP_NUM_THREADS=1, 3 runs in parallel; records: "
               "docs/results/stop17_evals/<run>-s<seed>.json; ADE-like split unless the key says voc; gate "
               "'groups' unless the key starts with image_ / voc_image_",
       "runs": {k: {"records": v, **summary(v)} for k, v in models.items()},
       "paired": {f"{a} − {b}": paired(models[a], models[b]) for a, b in PAIRS
                  if a in models and b in models and len(set(recs(models[a])) & set(recs(models[b]))) > 1}}
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
for k, v in out["runs"].items():
    m, s = v["mean"], v["std"]
    print(f"{k:20s} n={len(v['seeds'])} ADE {m['miou']:5.1f} ± {s['miou']:4.1f} (image gate {m['image_miou']:5.1f})  "
          f"VOC {m['voc_miou']:5.1f} ± {s['voc_miou']:4.1f} ({m['voc_image_miou']:5.1f})  object {m['object_miou']:5.1f} ± "
          f"{s['object_miou']:4.1f} ({m['image_object_miou']:5.1f})  grouping {m['grouping_miou']:5.1f} ± "
          f"{s['grouping_miou']:4.1f}  naming {m['naming_accuracy']:.2f} ± {s['naming_accuracy']:.2f}  groups "
          f"{m['groups_in_use']:.2f} ± {s['groups_in_use']:.2f}")
for k, p in out["paired"].items():
    print(f"{k} (seeds {p['seeds']}): " + "; ".join(
        f"{n} {p[key]['mean']:+.1f} [{p[key]['ci95'][0]:+.1f}, {p[key]['ci95'][1]:+.1f}]"
        for n, key in (("ADE", "miou"), ("VOC", "voc_miou"), ("object", "object_miou"), ("ADE image gate", "image_miou"),
                       ("VOC image gate", "voc_image_miou"), ("naming", "naming_accuracy"))))
