"""Experiment tables: mean ± std over seeds and the share of the baseline → oracle gap closed."""

import math

import pytest

from cocu.experiments.regimes import REGIMES, get_regime
from cocu.experiments.summary import aggregate, format_rows, gap_closed, mean_std, paired_difference
from cocu.errors import CocuError


def _record(regime: str, run_key: str, seed: int, voc: float, ade: float, n=None) -> dict:
    return {"regime": regime, "run_key": run_key, "seed": seed, "neighbours": n,
            "voc_like": {"mIoU": voc}, "ade_like": {"miou": ade, "image_recall": 0.5}}


def test_mean_std_matches_hand_values():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2.0)))
    assert mean_std([4.0]) == (4.0, 0.0)
    m, s = mean_std([float("nan"), 2.0, 4.0])
    assert (m, s) == (3.0, pytest.approx(math.sqrt(2.0)))
    assert all(math.isnan(v) for v in mean_std([]))


def test_gap_closed():
    assert gap_closed(7.0, 5.0, 9.0) == pytest.approx(0.5)
    assert gap_closed(5.0, 5.0, 9.0) == 0.0
    assert math.isnan(gap_closed(7.0, 9.0, 9.0))  # oracle not above the baseline: undefined
    assert math.isnan(gap_closed(float("nan"), 1.0, 2.0))


def test_aggregate_over_seeds_and_gap():
    records = [
        _record("baseline", "caption", 0, 2.0, 10.0), _record("baseline", "caption", 1, 4.0, 12.0),
        _record("cocu", "vision-t2v-cluster-n8", 0, 6.0, 14.0, 8),
        _record("cocu", "vision-t2v-cluster-n8", 1, 8.0, 16.0, 8),
        _record("oracle", "oracle", 0, 10.0, 20.0), _record("oracle", "oracle", 1, 12.0, 22.0),
    ]
    rows = aggregate(records)
    assert [r["model"] for r in rows] == ["baseline", "cocu", "oracle"]
    cocu = rows[1]
    assert cocu["seeds"] == 2 and cocu["N"] == 8
    assert cocu["voc mIoU"] == 7.0 and cocu["voc mIoU std"] == pytest.approx(math.sqrt(2.0))
    # baseline 3, oracle 11 → (7 − 3) / (11 − 3) = 0.5; ADE: (15 − 11) / (21 − 11) = 0.4
    assert cocu["gap closed (voc)"] == pytest.approx(0.5)
    assert cocu["gap closed (ade)"] == pytest.approx(0.4)
    assert rows[0]["gap closed (voc)"] == 0.0 and rows[2]["gap closed (voc)"] == 1.0
    shown = format_rows(rows, ["model", "voc mIoU", "gap closed (voc)"])
    assert shown[1] == {"model": "cocu", "voc mIoU": "7.0 ± 1.4", "gap closed (voc)": "50 %"}


def test_paired_difference_by_seed_with_t_interval():
    records = [_record("baseline", "caption", s, 0.0, b) for s, b in ((0, 10.0), (1, 12.0), (2, 11.0))]
    records += [_record("cocu", "cocu", s, 0.0, c) for s, c in ((0, 13.0), (1, 16.0), (2, 14.0), (3, 99.0))]
    d = paired_difference(records, "cocu", "baseline", "ade mIoU")
    assert d["seeds"] == [0, 1, 2]                      # seed 3 has no baseline: left out
    assert d["diffs"] == [3.0, 4.0, 3.0]
    mean, sd = 10.0 / 3, math.sqrt(((3 - 10 / 3) ** 2 * 2 + (4 - 10 / 3) ** 2) / 2)
    assert d["mean"] == pytest.approx(mean) and d["std"] == pytest.approx(sd)
    half = 4.303 * sd / math.sqrt(3)                    # t(0.975, df=2) = 4.303
    assert d["ci95"] == [pytest.approx(mean - half), pytest.approx(mean + half)]
    assert d["excludes_zero"] is True                   # [1.9, 4.8]
    noisy = paired_difference(records[:2] + [_record("cocu", "cocu", 0, 0.0, 14.0),
                                             _record("cocu", "cocu", 1, 0.0, 10.0)], "cocu", "baseline", "ade mIoU")
    assert noisy["diffs"] == [4.0, -2.0] and noisy["excludes_zero"] is False


def test_paired_rows_compare_every_curated_regime_at_its_own_n():
    from cocu.experiments.runners import paired_rows

    records = [_record("baseline", "caption", s, 0.0, 10.0) for s in (0, 1)]
    records += [_record("#4", f"cocu-n{n}", s, 0.0, 10.0 + n / 8 + s, n) for n in (8, 16) for s in (0, 1)]
    d16 = paired_difference(records, "#4", "baseline", "ade mIoU", neighbours=16)
    assert d16["diffs"] == [2.0, 3.0]                   # 10 + 16/8 + seed − 10, not the N = 8 runs
    regimes = [REGIMES["baseline"], REGIMES["#4"], REGIMES["#4"].with_neighbours(16)]
    rows = [r for r in paired_rows(records, regimes) if r["metric"] == "ade mIoU"]
    assert [(r["comparison"], r["per seed"]) for r in rows] == [
        ("#4 (N=8) − baseline", "+1.0, +2.0"), ("#4 (N=16) − baseline", "+2.0, +3.0")]
    main = paired_rows(records[:4], [REGIMES["baseline"], REGIMES["#4"]])
    assert main[0]["comparison"] == "#4 − baseline"     # one curated regime: no N in the label


def test_aggregate_separates_objectives_and_their_gaps():
    records = [{**r, "objective": o, "run_key": r["run_key"] + o} for o in ("paper", "grounded") for r in (
        _record("baseline", "caption", 0, 2.0, 10.0), _record("oracle", "oracle", 0, 10.0, 20.0),
        _record("cocu", "cocu", 0, 6.0, 14.0 if o == "paper" else 18.0))]
    rows = aggregate(records)
    assert [r["model"] for r in rows] == ["baseline (paper)", "oracle (paper)", "cocu (paper)",
                                          "baseline (grounded)", "oracle (grounded)", "cocu (grounded)"]
    assert rows[2]["gap closed (ade)"] == pytest.approx(0.4) and rows[5]["gap closed (ade)"] == pytest.approx(0.8)


def test_regimes_follow_the_appendix_table():
    assert (REGIMES["#1"].expansion, REGIMES["#1"].ranking, REGIMES["#1"].sampling) == ("language", "naive", "plain")
    assert (REGIMES["#2"].expansion, REGIMES["#2"].ranking, REGIMES["#2"].sampling) == ("vision", "naive", "plain")
    assert (REGIMES["#3"].expansion, REGIMES["#3"].ranking, REGIMES["#3"].sampling) == ("vision", "t2v", "plain")
    assert (REGIMES["#4"].expansion, REGIMES["#4"].ranking, REGIMES["#4"].sampling) == ("vision", "t2v", "cluster")
    # the demo's "cocu" trains exactly #4, so both share one cached run
    assert REGIMES["cocu"].run_key == REGIMES["#4"].run_key
    assert REGIMES["#4"].with_neighbours(16).run_key != REGIMES["#4"].run_key
    # #3 and #4 share one curation (clusters are always stored), #2 needs its own
    assert REGIMES["#3"].curation_key == REGIMES["#4"].curation_key != REGIMES["#2"].curation_key
    with pytest.raises(CocuError):
        get_regime("#5")


def test_output_folder_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    from cocu.cli import main

    target = tmp_path / "a_file"
    target.write_text("keep me")
    assert main(["demo", "--out", str(target), "--budget", "smoke"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"
