"""python docs/results/stop20_evals/summarise.py docs/results/stop20.json: stop 17's recipe (grounded, ``region_local``,
8 final groups, 24k samples) over ten seeds: stop 17's seeds 0–4 (``../stop17_evals/g8-*``) and seeds 5–9 trained in
this stop on the same machine type, after this stop's rebuild of the world, CLIP and curation retrained CoCu seed 0 to
a record identical to stop 17's (``repro-g8-cocu-s0``); and the same recipe with 36k samples (``k36-*``, seeds 0–2)
against the 24k runs of the same seeds, and the final-stage usage term capped at four groups' worth of shares
(``usage_groups`` 4, weight 4/3 so that below the cap its gradient is the default's; ``ug4w-*``, seeds 0–2; ``ug4-*``:
the cap at the default weight 2, seed 0 only), and the final-stage usage term stopped after 60 % of the steps
(``usage_until`` 0.6, ``uu6-*``, seeds 0–2). Keys as in ``../stop17_evals/summarise.py`` (gate "groups" unless the key
starts with image_ / voc_image_)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
KEYS = seed_stats.GATE_KEYS
MODELS = ("baseline", "CoCu", "oracle")
TEN = {m: ("../stop17_evals/g8-" + m.lower(), "g8-" + m.lower()) for m in MODELS}  # seeds 0–4 there, 5–9 here
VARIANTS = {"36k": "k36-", "usage capped at 4": "ug4w-", "usage until 0.6": "uu6-"}
ARMS = {**{f"{m}, 24k": TEN[m] for m in MODELS},
        **{f"{m}, {v}": prefix + m.lower() for v, prefix in VARIANTS.items() for m in MODELS}}
PAIRS = [(f"{a}, {k}", f"{b}, {k}") for k in ("24k", *VARIANTS) for a, b in (("CoCu", "baseline"), ("oracle", "baseline"),
                                                                             ("oracle", "CoCu"))]
PAIRS += [(f"{m}, {v}", f"{m}, 24k") for v in VARIANTS for m in MODELS]
out = {"note": "tiny preset, grounded, region_local, 8 final groups, bf16 autocast (AMD EPYC with AVX512-BF16, no "
               "AMX), OMP_NUM_THREADS=1, 3 runs in parallel; world, CLIP and curation rebuilt by stop 14's prep.py; "
               "24k rows: seeds 0–4 from docs/results/stop17_evals/, 5–9 from docs/results/stop20_evals/; 36k rows: "
               "36000 samples per run (563 steps, warm-up 10 %); 'usage capped at 4': usage_groups 4, usage_weight 4/3 "
               "(records ug4w-*; ug4-*: usage_groups 4 at weight 2, seed 0); 'usage until 0.6': usage_until 0.6",
       "reproduced": {"run": "g8-cocu-s0", "identical_to_stop17": json.load(open(f"{HERE}/repro-g8-cocu-s0.json"))
                      == json.load(open(f"{HERE}/../stop17_evals/g8-cocu-s0.json"))},
       **seed_stats.section(HERE, ARMS, PAIRS, keys=KEYS)}
for k in ("24k", *VARIANTS):  # share of the baseline → oracle gap that CoCu closes (ADE-like)
    share = seed_stats.gap_share(out["paired"], f"CoCu, {k} − baseline, {k}", f"oracle, {k} − baseline, {k}")
    if share is not None:
        out[f"gap_share_ade ({k})"] = share
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
print({k: v for k, v in out.items() if k.startswith(("gap", "repro"))})
