"""python docs/results/stop14_evals/summarise.py docs/results/stop14.json: per-seed records, means ± std and paired
statistics of the stop-14 runs (the records in this folder; all trained and evaluated in one environment)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
RUNS = {"baseline (recipe)": "mi2.0-caption", "cocu (recipe)": "mi2.0-cocu", "oracle (recipe)": "mi2.0-oracle",
        "baseline + first-stage usage ×2 until 0.4": "fs0.4-caption", "cocu + first-stage usage ×2 until 0.4": "fs0.4-cocu",
        "oracle + first-stage usage ×2 until 0.4": "fs0.4-oracle", "cocu + naming ×1": "nm1-cocu",
        "cocu + naming ×1 + first-stage usage ×2 until 0.4": "nm1fs-cocu",
        "cocu + first-stage usage ×2 until 0.4 + distinct ×1": "dg1-cocu",
        "oracle + first-stage usage ×2 until 0.4 + distinct ×1": "dg1-oracle"}
PAIRS = [("cocu (recipe)", "baseline (recipe)"), ("oracle (recipe)", "baseline (recipe)"),
         ("cocu + first-stage usage ×2 until 0.4", "cocu (recipe)"), ("oracle + first-stage usage ×2 until 0.4", "oracle (recipe)"),
         ("baseline + first-stage usage ×2 until 0.4", "baseline (recipe)"),
         ("cocu + first-stage usage ×2 until 0.4", "baseline + first-stage usage ×2 until 0.4"),
         ("oracle + first-stage usage ×2 until 0.4", "baseline + first-stage usage ×2 until 0.4"),
         ("cocu + naming ×1", "cocu (recipe)"), ("cocu + naming ×1 + first-stage usage ×2 until 0.4", "cocu (recipe)"),
         ("cocu + first-stage usage ×2 until 0.4 + distinct ×1", "cocu + first-stage usage ×2 until 0.4"),
         ("oracle + first-stage usage ×2 until 0.4 + distinct ×1", "oracle + first-stage usage ×2 until 0.4")]
out = {"note": "tiny preset, 24k samples per run, grounded objective with usage ×2 (the recipe), OMP_NUM_THREADS=1; "
               "records: docs/results/stop14_evals/<run>-s<seed>.json; ADE-like split unless the key says voc",
       **seed_stats.section(HERE, RUNS, PAIRS, min_seeds=1)}
for label in ("recipe", "first-stage usage ×2 until 0.4"):
    key = (f"cocu ({label})", f"oracle ({label})", f"baseline ({label})") if label == "recipe" else \
          (f"cocu + {label}", f"oracle + {label}", f"baseline + {label}")
    share = seed_stats.gap_share(out["paired"], f"{key[0]} − {key[2]}", f"{key[1]} − {key[2]}")
    if share is not None:
        out[f"gap_share_ade ({label})"] = share
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
print({k: v for k, v in out.items() if k.startswith("gap")})
