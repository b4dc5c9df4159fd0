"""Charts and heatmap grids are written as readable PNGs of the expected layout."""

import numpy as np
import pytest
from PIL import Image

from cocu.errors import CocuError
from cocu.viz.plots import _limits, bar_chart, line_plot, render_heatmaps


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def test_bar_chart_and_line_plot(tmp_path):
    p = bar_chart(tmp_path / "a" / "bars.png", ["Baseline", "#1", "#2"],
                  {"VOC": [0.1, 0.2, 0.3], "ADE": [0.05, 0.1, 0.2]},
                  {"VOC": [0.01, 0.02, 0.01]}, title="ablation", ylabel="mIoU",
                  hlines={"oracle": 0.35})
    arr = _png(p)
    assert arr.shape[0] > 100 and arr.shape[1] > 100
    assert arr.std() > 10   # not a blank canvas
    q = line_plot(tmp_path / "line.png", [8, 16, 32], {"CoCu": [10.5, 12.9, 13.1]},
                  {"CoCu": [0.5, 0.4, 0.3]}, xlabel="N", hlines={"GroupViT": 8.2}, logx=True)
    assert _png(q).std() > 10
    with pytest.raises(CocuError, match="3 labels"):
        bar_chart(tmp_path / "x.png", ["a", "b", "c"], {"s": [1, 2]})
    with pytest.raises(CocuError, match="3 x values"):
        line_plot(tmp_path / "y.png", [1, 2, 3], {"s": [1, 2]})
    assert not (tmp_path / "x.png").exists()


def test_heatmap_limits_by_scale():
    a = np.array([[[0.0, 1.0]], [[2.0, 4.0]]])   # 2 concepts, 1×2 maps
    b = np.array([[[-1.0, 0.0]], [[0.5, 0.5]]])
    assert _limits([a, b], "map") == [[(0, 1), (2, 4)], [(-1, 0), (0.5, 0.5)]]
    assert _limits([a, b], "row") == [[(0, 4), (0, 4)], [(-1, 0.5), (-1, 0.5)]]
    assert _limits([a, b], "global") == [[(-1, 4), (-1, 4)], [(-1, 4), (-1, 4)]]
    with pytest.raises(CocuError, match="scale"):
        _limits([a], "bogus")


def test_render_heatmaps_single_and_compare(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, 15:] = 255
    maps = np.stack([np.tile(np.linspace(0, 1, 30), (20, 1)), np.full((20, 30), 0.2)]).astype(np.float32)
    one = _png(render_heatmaps(img, maps, ["dog", "grass"], tmp_path / "one.png", alpha=1.0))
    two = _png(render_heatmaps(img, maps, ["dog", "grass"], tmp_path / "two.png", compare=-maps,
                               names=("baseline", "cocu"), scale="global"))
    many = _png(render_heatmaps(img, {"a": maps, "b": maps, "c": maps}, ["dog", "grass"],
                                tmp_path / "three.png"))
    assert two.shape[0] > 1.5 * one.shape[0] * 0.9
    assert many.shape[0] > two.shape[0]
    # opaque jet colours appear (strong blue and red from the ramp map)
    px = one.reshape(-1, 3).astype(int)
    assert ((px[:, 2] > 150) & (px[:, 0] < 100)).any() and ((px[:, 0] > 150) & (px[:, 2] < 100)).any()
    with pytest.raises(CocuError, match="expected"):
        render_heatmaps(img, maps[:1], ["dog", "grass"], tmp_path / "bad.png")
    with pytest.raises(CocuError, match="expected"):
        render_heatmaps(img, maps[:, :10], ["dog", "grass"], tmp_path / "bad.png")
