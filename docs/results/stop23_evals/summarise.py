"""python docs/results/stop23_evals/summarise.py docs/results/stop23.json: stop 22's recipe (grounded, ``region_local``,
8 final groups, 24k samples, fp32 on the AVX2 machine type, the logit scales at 20 × the learning rate) with CoCu's
curated concepts drawn by ⑤ plain sampling (the top 3, as the released CoCu code trains) instead of ⑥ cluster
sampling (the official, disabled k-means draw: clusters with replacement), seeds 0–5, paired by seed with stop 22's
baseline, CoCu (⑥) and oracle runs; ``"scales × 1"``: the same change in stop 21's recipe, seeds 0–5
(the scales at the learning rate), paired with stop 21's runs (it is stop 18's ablation #3, whose seeds 0–2 it
reproduces: ``reproduced_stop18_a3``); ``reproduced_stop22``: stop 22's CoCu seed 0
retrained in this session, key by key against its record."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
COMMON = seed_stats.GATE_KEYS + ("voc_words_miou", "voc_thresh05_miou", "voc_clamped", "voc_fg_groups", "logit_scale")
KEYS = COMMON + ("ml_logit_scale",)
ARMS = {"baseline": "../stop22_evals/ls20-baseline", "CoCu ⑥": "../stop22_evals/ls20-cocu", "CoCu ⑤": "ls20p-cocu",
        "oracle": "../stop22_evals/ls20-oracle"}
PAIRS = [("CoCu ⑤", "baseline"), ("CoCu ⑤", "CoCu ⑥"), ("oracle", "CoCu ⑤"), ("CoCu ⑥", "baseline"),
         ("oracle", "baseline")]
out = {"note": "stop 22's recipe (--logit-scale-lr 20) with CoCu's concepts drawn by plain sampling: tiny preset, "
               "grounded, region_local, 8 final groups, 24k samples, fp32 (AMD EPYC with AVX2, no AVX-512), "
               "OMP_NUM_THREADS=1, 3 runs in parallel; world, CLIP and curation of stop 21 (stop 14's prep.py)",
       **seed_stats.section(HERE, ARMS, PAIRS, keys=KEYS)}
for key in ("miou", "voc_miou", "voc_words_miou"):
    out[f"gap_share ({key})"] = seed_stats.gap_share(out["paired"], "CoCu ⑤ − baseline", "oracle − baseline", key)
out["scales × 1"] = {
    "CoCu ⑤": seed_stats.summary(HERE, "g8p-cocu", keys=COMMON),
    "CoCu ⑤ − CoCu ⑥": seed_stats.paired(HERE, "g8p-cocu", "../stop21_evals/g8-cocu", keys=COMMON),
    "CoCu ⑤ − baseline": seed_stats.paired(HERE, "g8p-cocu", "../stop21_evals/g8-baseline", keys=COMMON),
    "oracle − CoCu ⑤": seed_stats.paired(HERE, "../stop21_evals/g8-oracle", "g8p-cocu", keys=COMMON),
    "oracle − baseline": seed_stats.paired(HERE, "../stop21_evals/g8-oracle", "../stop21_evals/g8-baseline",
                                           keys=COMMON)}
for key in ("miou", "voc_miou", "voc_words_miou"):
    out["scales × 1"][f"gap_share ({key})"] = seed_stats.gap_share(out["scales × 1"], "CoCu ⑤ − baseline",
                                                                    "oracle − baseline", key)
mine = json.load(open(f"{HERE}/repro-ls20-cocu-s0.json"))
theirs = json.load(open(f"{HERE}/../stop22_evals/ls20-cocu-s0.json"))
out["reproduced_stop22"] = {"run": "ls20-cocu-s0", "keys": len(mine),
                            "equal": all(theirs[k] == v for k, v in mine.items())}
# CoCu ⑤ in the default recipe is stop 18's ablation #3 (②④⑤): seeds 0–2 retrained, key by key against its records
a3 = {s: json.load(open(f"{HERE}/../stop18_evals/a3-s{s}.json")) for s in range(3)}
g8p = seed_stats.recs(HERE, "g8p-cocu", range(3))
out["reproduced_stop18_a3"] = {"seeds": sorted(g8p), "equal": all(
    g8p[s][k] == v for s in g8p for k, v in a3[s].items())}
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
for k, p in out["paired"].items():
    print(k, "VOC words", p["voc_words_miou"]["mean"], p["voc_words_miou"]["ci95"])
for k, p in out["scales × 1"].items():
    if "−" in k and "gap" not in k:
        print("× 1:", k, {m: (p[m]["per_seed"], p[m]["mean"], p[m]["ci95"]) for m in ("miou", "voc_miou", "object_miou")})
print({k: v for k, v in out.items() if k.startswith("gap") or k.startswith("repro")},
      {k: v for k, v in out["scales × 1"].items() if k.startswith("gap")})
