"""python docs/results/stop21_evals/summarise.py docs/results/stop21.json: the recipe (grounded, ``region_local``, 8 final
groups, 24k samples) in fp32 on the AVX2 machine type of stops 18–19, seeds 0–5 of baseline, CoCu (#4, N = 8) and oracle,
with the VOC-like split scored two ways: GroupViT's threshold (``voc_miou``, background where the best class score is
below min(0.95, the image's best)) and the world's six stuff names as background words with no threshold
(``voc_words_miou``); ``voc_clamped``: the share of images where no group reaches 0.95 (the threshold then keeps the one
best group), ``voc_fg_groups``: groups with foreground pixels per image (the images hold 1.72 objects on average),
``voc_thresh05_miou``: the threshold at 0.5 (diagnostic). Baseline and CoCu seeds 0–2 retrained stop 18's runs
(``reproduced_stop18``: their records equal stop 18's key for key)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
KEYS = seed_stats.GATE_KEYS + ("voc_words_miou", "voc_thresh05_miou", "voc_clamped", "voc_fg_groups", "logit_scale")
MODELS = ("baseline", "CoCu", "oracle")
ARMS = {m: "g8-" + m.lower() for m in MODELS}
PAIRS = [("CoCu", "baseline"), ("oracle", "baseline"), ("oracle", "CoCu")]
STOP18 = os.path.join(os.path.dirname(HERE), "stop18_evals")
same = {}
for m in ("baseline", "cocu"):
    for s in range(3):
        new = json.load(open(f"{HERE}/g8-{m}-s{s}.json"))
        old = json.load(open(f"{STOP18}/{m}-s{s}.json"))
        same[f"{m}-s{s}"] = all(new[k] == v for k, v in old.items())
out = {"note": "tiny preset, grounded, region_local, 8 final groups, 24k samples, fp32 (AMD EPYC with AVX2, no "
               "AVX-512), OMP_NUM_THREADS=1, 3 runs in parallel; world, CLIP and curation rebuilt by stop 14's prep.py",
       "reproduced_stop18": same,
       **seed_stats.section(HERE, ARMS, PAIRS, keys=KEYS)}
for key in ("miou", "voc_miou", "voc_words_miou"):
    out[f"gap_share ({key})"] = seed_stats.gap_share(out["paired"], "CoCu − baseline", "oracle − baseline", key)
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
for k, p in out["paired"].items():
    print(k, "VOC words", p["voc_words_miou"]["mean"], p["voc_words_miou"]["ci95"])
print({k: v for k, v in out.items() if k.startswith(("gap", "repro"))})
