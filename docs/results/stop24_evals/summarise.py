"""python docs/results/stop24_evals/summarise.py docs/results/stop24.json: stop 23's default-recipe comparison on
fresh seeds 6–11 and another machine type (AMD EPYC with AVX-512 and AVX512-BF16, trained in fp32 as stops 21–23):
the baseline, CoCu drawing its top 3 (⑤, ②④⑤ = the ablation's #3, as the released CoCu code trains), CoCu with
⑥ cluster sampling (#4) and the oracle; the recipe is stop 21's (grounded, ``region_local``, 8 final groups, 24k
samples). ``"seeds 0–11"``: the paired differences of these seeds pooled with stops 21 and 23's seeds 0–5 (AVX2
machine type; every difference is between two runs of one machine)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
KEYS = seed_stats.GATE_KEYS + ("voc_words_miou", "voc_thresh05_miou", "voc_clamped", "voc_fg_groups", "logit_scale")
SEEDS = range(6, 12)
ARMS = {"baseline": "g8-baseline", "CoCu ⑤": "g8p-cocu", "CoCu ⑥": "g8-cocu", "oracle": "g8-oracle"}
PAIRS = [("CoCu ⑤", "baseline"), ("CoCu ⑤", "CoCu ⑥"), ("oracle", "CoCu ⑤"), ("CoCu ⑥", "baseline"),
         ("oracle", "baseline")]
EARLIER = {"baseline": "../stop21_evals/g8-baseline", "CoCu ⑤": "../stop23_evals/g8p-cocu",
           "CoCu ⑥": "../stop21_evals/g8-cocu", "oracle": "../stop21_evals/g8-oracle"}
out = {"note": "stop 21's recipe (tiny preset, grounded, region_local, 8 final groups, 24k samples) in fp32 "
               "(amp none) on an AMD EPYC with AVX-512/AVX512-BF16, OMP_NUM_THREADS=1, 3 runs in parallel; "
               "world, CLIP and curation made by stop 14's prep.py in this session",
       **seed_stats.section(HERE, ARMS, PAIRS, seeds=SEEDS, keys=KEYS)}
for key in ("miou", "voc_miou", "voc_words_miou"):
    for model in ("CoCu ⑤", "CoCu ⑥"):
        out[f"gap_share {model} ({key})"] = seed_stats.gap_share(out["paired"], f"{model} − baseline",
                                                                 "oracle − baseline", key)
both = {label: (ARMS[label], EARLIER[label]) for label in ARMS}
pooled = {f"{a} − {b}": seed_stats.paired(HERE, both[a], both[b], seeds=range(12), keys=KEYS) for a, b in PAIRS}
for key in ("miou", "voc_miou"):
    for model in ("CoCu ⑤", "CoCu ⑥"):
        pooled[f"gap_share {model} ({key})"] = seed_stats.gap_share(pooled, f"{model} − baseline",
                                                                    "oracle − baseline", key)
out["seeds 0–11"] = pooled
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
print({k: v for k, v in out.items() if k.startswith("gap")})
for k, p in pooled.items():
    if "gap" in k:
        print("seeds 0–11:", k, p)
    else:
        print("seeds 0–11:", k, {m: (p[m]["mean"], p[m]["ci95"]) for m in ("miou", "voc_miou", "object_miou")})
