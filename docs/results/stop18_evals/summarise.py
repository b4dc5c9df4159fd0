"""python docs/results/stop18_evals/summarise.py docs/results/stop18.json: the ablation (#1–#3) and N sweep (16, 32)
of stop 17's recipe (``region_local``, 8 final groups, grounded), seeds 0–2, trained on stop 18's machine (fp32: no
AVX512-BF16), beside the baseline and CoCu (#4, N = 8) retrained there; the oracle rows are stop 17's runs (bf16, another machine),
so differences against them pair seeds, not numerics. ``machine`` pools the same config and seed trained on both
machines. Keys as in ``../stop17_evals/summarise.py`` (gate "groups" unless the key starts with image_ / voc_image_)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
KEYS = seed_stats.GATE_KEYS
SEEDS = (0, 1, 2)
S17 = "../stop17_evals/g8-"  # stop 17's records, relative to this folder
ARMS = {"baseline": "baseline", "#1 ①③⑤ language, naive, plain": "a1",
        "#2 ②③⑤ vision, naive, plain": "a2", "#3 ②④⑤ vision, t2v, plain": "a3", "#4 ②④⑥ CoCu, N = 8": "cocu",
        "#4, N = 16": "n16", "#4, N = 32": "n32", "oracle (stop 17)": S17 + "oracle"}
names = list(ARMS)
PAIRS = [(n, names[0]) for n in names[1:]] + [(names[7], names[4])] + list(zip(names[2:5], names[1:4])) + [
    (names[5], names[4]), (names[6], names[4]), (names[6], names[5])]
MACHINE = [(a, S17 + a) for a in ("baseline", "a1", "a2", "a3", "cocu")]  # same config and seed, this machine − stop 17's
out = {"note": "tiny preset, 24k samples per run, grounded, region_local, 8 final groups, fp32 (AMD EPYC with AVX2, "
               "no AVX512), OMP_NUM_THREADS=1, 3 runs in parallel; CLIP and curations rebuilt on this machine by "
               "stop 16's prep.py / prep16.py; records: docs/results/stop18_evals/<arm>-s<seed>.json; the "
               "'(stop 17)' rows: bf16 runs of docs/results/stop17_evals/",
       "curation_quality": json.load(open(f"{HERE}/curation_quality.json")),
       **seed_stats.section(HERE, ARMS, PAIRS, SEEDS, KEYS),
       "machine": {"runs": {}, "paired": {"this machine − stop 17's (baseline, #4: seeds 0–2; #1–#3: seed 0)":
           seed_stats.paired_pooled(HERE, [(a, b) for a, b in MACHINE if seed_stats.recs(HERE, a, SEEDS)
                                           and seed_stats.recs(HERE, b, SEEDS)], SEEDS, KEYS)}}}
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
seed_stats.print_section(out["machine"])
