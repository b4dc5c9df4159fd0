"""python docs/results/stop16_evals/summarise.py docs/results/stop16.json: per-seed records, means ± std and paired
statistics of the stop-16 runs: the ablation (#1–#4) and the N sweep with the grounded recipe (``region_alone``),
seeds 0–2, and the ``region_local`` model against ``region_alone`` (the regionA-{baseline,cocu,oracle} records are
stop 15's runs; this stop retrained CoCu seeds 0–2 and got identical records)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
ABLATION_SEEDS = (0, 1, 2)
ABLATION = {"baseline": "regionA-baseline", "#1 ①③⑤ language, naive, plain": "regionA-a1",
            "#2 ②③⑤ vision, naive, plain": "regionA-a2", "#3 ②④⑤ vision, t2v, plain": "regionA-a3",
            "#4 ②④⑥ CoCu, N = 8": "regionA-cocu", "#4, N = 16": "regionA-n16", "#4, N = 32": "regionA-n32",
            "oracle": "regionA-oracle"}
names = list(ABLATION)
ABLATION_PAIRS = [(n, "baseline") for n in names[1:]] + list(zip(names[2:5], names[1:4])) + [
    ("#4, N = 16", "#4 ②④⑥ CoCu, N = 8"), ("#4, N = 32", "#4 ②④⑥ CoCu, N = 8"), ("#4, N = 32", "#4, N = 16")]
MODELS = {f"{regime}, {recipe}": f"{prefix}-{regime}" for recipe, prefix in
          (("region_alone", "regionA"), ("region_local", "local")) for regime in ("cocu", "oracle", "baseline")}
MODEL_PAIRS = [(f"{g}, region_local", f"{g}, region_alone") for g in ("cocu", "oracle", "baseline")] + [
    (f"{g}, {r}", f"baseline, {r}") for r in ("region_alone", "region_local") for g in ("cocu", "oracle")]

out = {"note": "tiny preset, 24k samples per run, the grounded objective's default recipe (usage ×2, first-stage "
               "usage ×2 until 0.4), bf16 autocast (AMD EPYC with AVX512-BF16), OMP_NUM_THREADS=1, 3 runs in "
               "parallel; records: docs/results/stop16_evals/<run>-s<seed>.json; ADE-like split unless the key "
               "says voc",
       "ablation": {"seeds": list(ABLATION_SEEDS), "model": "isolated_groups = region_alone",
                    **seed_stats.section(HERE, ABLATION, ABLATION_PAIRS, ABLATION_SEEDS)},
       "models": seed_stats.section(HERE, MODELS, MODEL_PAIRS)}
models = {k: v["records"] for k, v in out["models"]["runs"].items()}
if all(f"{g}, {r}" in models for g in ("cocu", "oracle") for r in ("region_local", "region_alone")):
    out["models"]["paired"]["cocu + oracle, region_local − region_alone (pooled)"] = seed_stats.paired_pooled(
        HERE, [(models[f"{g}, region_local"], models[f"{g}, region_alone"]) for g in ("cocu", "oracle")])
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
for part in ("ablation", "models"):
    seed_stats.print_section(out[part])
