"""python docs/results/stop19_evals/summarise.py docs/results/stop19.json: the demo budget on a CPU without native bf16
(fp32): baseline, CoCu (#4, N = 8) and oracle with 16k samples per run (250 steps) instead of 24k, stop 17's recipe
(grounded, ``region_local``, 8 final groups), seeds 0–2, beside stop 18's 24k runs of the baseline and CoCu on the same
machine, and the same 16k runs with the first-stage usage term on for 60 % of the steps (150, as at 24k) instead of
40 %. Keys as in ``../stop17_evals/summarise.py`` (gate "groups" unless the key starts with image_ / voc_image_)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
KEYS = seed_stats.GATE_KEYS
SEEDS = (0, 1, 2)
S18 = "../stop18_evals/"  # stop 18's 24k records (this machine), relative to this folder
ARMS = {"baseline, 16k": "k16-baseline", "CoCu, 16k": "k16-cocu", "oracle, 16k": "k16-oracle",
        "baseline, 24k (stop 18)": S18 + "baseline", "CoCu, 24k (stop 18)": S18 + "cocu",
        "baseline, 16k, first-stage 60 %": "k16u-baseline", "CoCu, 16k, first-stage 60 %": "k16u-cocu",
        "oracle, 16k, first-stage 60 %": "k16u-oracle"}
names = list(ARMS)
PAIRS = [(names[1], names[0]), (names[2], names[0]), (names[2], names[1]), (names[0], names[3]), (names[1], names[4]),
         (names[6], names[5]), (names[7], names[5]), (names[5], names[0]), (names[6], names[1]), (names[7], names[2])]
out = {"note": "tiny preset, grounded, region_local, 8 final groups, fp32 (AMD EPYC with AVX2, no AVX512), "
               "OMP_NUM_THREADS=1, 3 runs in parallel; 16k rows: 16000 samples per run (250 steps at batch 64, warm-up "
               "10 % of the steps), the demo budget where training runs in fp32 since stop 19; 24k rows: stop 18's runs "
               "(375 steps); 'first-stage 60 %': first_usage_until 0.6 instead of 0.4; world, CLIP and curation as in "
               "stop 18; records: docs/results/stop19_evals/<arm>-s<seed>.json",
       **seed_stats.section(HERE, ARMS, PAIRS, SEEDS, KEYS)}
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
