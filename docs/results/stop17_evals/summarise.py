"""python docs/results/stop17_evals/summarise.py docs/results/stop17.json: per-seed records, means ± std and paired
statistics of stop 17: stop 16's ``region_local`` runs evaluated again with both top-k gates (``local-*``), and the
same recipe with 8 final groups (``g8-*``). Zero-shot keys (``miou``, ``object_miou``, ``stuff_miou``, ``voc_miou``)
use the synthetic protocol's gate ("groups"); ``image_*`` / ``voc_image_miou`` the official one (the image embedding)."""
import json, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
KEYS = seed_stats.GATE_KEYS
MODELS = {f"{regime}, {groups} groups": f"{prefix}-{regime}" for groups, prefix in ((4, "local"), (8, "g8"))
          for regime in ("baseline", "cocu", "oracle")}
PAIRS = [(f"{g}, {n} groups", f"baseline, {n} groups") for n in (4, 8) for g in ("cocu", "oracle")] + [
    (f"oracle, {n} groups", f"cocu, {n} groups") for n in (4, 8)] + [
    (f"{g}, 8 groups", f"{g}, 4 groups") for g in ("baseline", "cocu", "oracle")]
out = {"note": "tiny preset, 24k samples per run, the grounded recipe (isolated_groups = region_local), bf16 "
               "autocast (AMD EPYC with AVX512-BF16), OMP_NUM_THREADS=1, 3 runs in parallel; records: "
               "docs/results/stop17_evals/<run>-s<seed>.json; ADE-like split unless the key says voc; gate "
               "'groups' unless the key starts with image_ / voc_image_",
       **seed_stats.section(HERE, MODELS, PAIRS, keys=KEYS)}
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
seed_stats.print_section(out)
