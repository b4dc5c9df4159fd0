"""python docs/results/stop22_evals/summarise.py docs/results/stop22.json: stop 21's recipe (grounded, ``region_local``,
8 final groups, 24k samples, fp32 on the AVX2 machine type) with the two logit scales learning at 20 × the learning
rate, undecayed (``--logit-scale-lr 20``), seeds 0–5 of baseline, CoCu (#4, N = 8) and oracle; the same keys as stop
21 plus ``ml_logit_scale`` (the multi-label scale of the multi-label and grounding terms). ``"logit-scale lr 20 − 1"``
pairs each run with stop 21's run of the same model and seed (the same config but for the scales' rate);
``"CoCu K = 5 − K = 3"`` a pilot (seeds 0–2): CoCu with five prompts per image (``multi_label = 5``), the scales at × 20."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
COMMON = seed_stats.GATE_KEYS + ("voc_words_miou", "voc_thresh05_miou", "voc_clamped", "voc_fg_groups", "logit_scale")
KEYS = COMMON + ("ml_logit_scale",)
MODELS = ("baseline", "CoCu", "oracle")
ARMS = {m: "ls20-" + m.lower() for m in MODELS}
PAIRS = [("CoCu", "baseline"), ("oracle", "baseline"), ("oracle", "CoCu")]
out = {"note": "stop 21's runs with --logit-scale-lr 20: tiny preset, grounded, region_local, 8 final groups, 24k "
               "samples, fp32 (AMD EPYC with AVX2, no AVX-512), OMP_NUM_THREADS=1, 3 runs in parallel; world, CLIP "
               "and curation of stop 21 (stop 14's prep.py)",
       **seed_stats.section(HERE, ARMS, PAIRS, keys=KEYS)}
for key in ("miou", "voc_miou", "voc_words_miou"):
    out[f"gap_share ({key})"] = seed_stats.gap_share(out["paired"], "CoCu − baseline", "oracle − baseline", key)
out["logit-scale lr 20 − 1"] = {m: seed_stats.paired(HERE, ARMS[m], f"../stop21_evals/g8-{m.lower()}", keys=COMMON)
                                for m in MODELS if len(seed_stats.recs(HERE, ARMS[m])) > 1}
out["CoCu K = 5 − K = 3"] = seed_stats.paired(HERE, "k5ls20-cocu", ARMS["CoCu"], keys=KEYS)
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
for k, p in out["paired"].items():
    print(k, "VOC words", p["voc_words_miou"]["mean"], p["voc_words_miou"]["ci95"])
for m, p in out["logit-scale lr 20 − 1"].items():
    print("lr 20 − 1", m, {k: (p[k]["mean"], p[k]["ci95"]) for k in ("miou", "voc_miou", "voc_words_miou", "object_miou")})
p = out["CoCu K = 5 − K = 3"]
print("K5 − K3 CoCu", {k: (p[k]["per_seed"], p[k]["mean"], p[k]["ci95"]) for k in ("miou", "voc_miou", "groups_in_use")})
print({k: v for k, v in out.items() if k.startswith("gap")})
