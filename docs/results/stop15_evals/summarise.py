"""python docs/results/stop15_evals/summarise.py docs/results/stop15.json: per-seed records, means ± std and paired
statistics of the stop-15 runs (the records in this folder; all trained and evaluated on one machine)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
RECIPES = {"default": "ref", "region_fixed": "regionF", "region_alone": "regionA"}
RUNS = {f"{regime}, {recipe}": f"{prefix}-{regime}" for recipe, prefix in RECIPES.items()
        for regime in ("cocu", "oracle", "baseline")}
PAIRS = [(f"{g}, {a}", f"{g}, {b}") for g in ("cocu", "oracle", "baseline")
         for a, b in (("region_fixed", "default"), ("region_alone", "default"), ("region_alone", "region_fixed"))]
PAIRS += [(f"{a}, {r}", f"baseline, {r}") for r in RECIPES for a in ("cocu", "oracle")]
out = {"note": "tiny preset, 24k samples per run, the grounded objective's default recipe (usage ×2, first-stage "
               "usage ×2 until 0.4), bf16 autocast (AMD EPYC with AVX512-BF16), OMP_NUM_THREADS=1, 3 runs in "
               "parallel; the model's isolated_groups as named; records: docs/results/stop15_evals/<run>-s<seed>.json; "
               "ADE-like split unless the key says voc",
       **seed_stats.section(HERE, RUNS, PAIRS, min_seeds=1)}
runs = {k: v["records"] for k, v in out["runs"].items()}
for recipe in ("region_fixed", "region_alone"):  # the recipe's effect, CoCu and oracle runs pooled (seed pairs)
    out["paired"][f"cocu + oracle, {recipe} − default (pooled)"] = seed_stats.paired_pooled(
        HERE, [(runs[f"{g}, {recipe}"], runs[f"{g}, default"]) for g in ("cocu", "oracle")])
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
