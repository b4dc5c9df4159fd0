"""HTML/markdown report builder: exact markup for hand-written inputs, embedded images."""

import base64
import re

import numpy as np
import pytest
from PIL import Image

from cocu.errors import CocuError
from cocu.viz.report import Report, format_cell, markdown_to_html


def test_markdown_subset():
    md = "Mean of **3 seeds**, `a<b`, *ok* and [x](http://e.org).\nSecond line.\n\n- one\n- two\n\n1. first\n\n## Sub"
    assert markdown_to_html(md) == (
        '<p>Mean of <strong>3 seeds</strong>, <code>a&lt;b</code>, <em>ok</em> and '
        '<a href="http://e.org">x</a>. Second line.</p>\n'
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<ol>\n<li>first</li>\n</ol>\n<h4>Sub</h4>")
    assert markdown_to_html("```\n<b> *x*\n```") == "<pre><code>&lt;b&gt; *x*</code></pre>"
    assert markdown_to_html("a <script>") == "<p>a &lt;script&gt;</p>"
    assert markdown_to_html("2 * 3 * 4") == "<p>2 * 3 * 4</p>"


def test_format_cell():
    assert format_cell(0.123456) == "0.1235"
    assert format_cell(float("nan")) == "n/a"
    assert format_cell(None) == ""
    assert format_cell(3) == "3"
    assert format_cell(np.float32(2.5)) == "2.5"
    assert format_cell(True) == "True"


def _png_file(path, colour, size=(6, 4)):
    Image.new("RGB", size, colour).save(path)
    return path


def test_report_html_and_markdown(tmp_path):
    img_path = _png_file(tmp_path / "red.png", (255, 0, 0))
    arr = np.zeros((3, 5, 3), np.uint8)
    arr[..., 1] = 200
    rep = Report("Demo <1>")
    rep.section("Results").text("Mean of **3** seeds.")
    rep.table([{"model": "base", "mIoU": 0.04123}, {"model": "a|b", "n": 3}], caption="Table 1")
    rep.image(img_path, "Figure 1: red")
    rep.image(arr, "green array", width=200)
    html_path, md_path = rep.write(tmp_path / "out", name="rep")
    html = html_path.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<title>Demo &lt;1&gt;</title>" in html
    assert '<h2 id="results">Results</h2>' in html
    assert ("<table><caption>Table 1</caption><thead><tr><th>model</th><th>mIoU</th><th>n</th></tr>"
            "</thead><tbody><tr><td>base</td><td class=\"num\">0.04123</td><td></td></tr>"
            "<tr><td>a|b</td><td></td><td class=\"num\">3</td></tr></tbody></table>") in html
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(uris) == 2
    assert base64.b64decode(uris[0]) == img_path.read_bytes()   # embedded unchanged
    assert 'style="width:200px;image-rendering:pixelated"' in html
    assert "http" not in html.replace('name="viewport"', "")        # nothing external
    md = md_path.read_text()
    assert md == (
        "# Demo <1>\n\n## Results\n\nMean of **3** seeds.\n\n**Table 1**\n\n"
        "| model | mIoU | n |\n|---|---:|---:|\n| base | 0.04123 |  |\n| a\\|b |  | 3 |\n\n"
        "![Figure 1: red](rep_files/01-figure-1-red.png)\n\n*Figure 1: red*\n\n"
        "![green array](rep_files/02-green-array.png)\n\n*green array*\n")
    assert (tmp_path / "out" / "rep_files" / "01-figure-1-red.png").read_bytes() == img_path.read_bytes()
    green = np.asarray(Image.open(tmp_path / "out" / "rep_files" / "02-green-array.png"))
    assert np.array_equal(green, arr)


def test_report_jpeg_and_toc(tmp_path):
    Image.new("RGB", (8, 8), (0, 0, 255)).save(tmp_path / "b.jpg")
    rep = Report("r")
    for name in ("A", "B", "A"):
        rep.section(name)
    rep.image(tmp_path / "b.jpg")
    html_path, md_path = rep.write(tmp_path)
    html = html_path.read_text()
    assert 'src="data:image/jpeg;base64,' in html
    assert '<h2 id="a-2">A</h2>' in html and 'href="#a-2"' in html
    assert "](report_files/01-image.jpg)" in md_path.read_text()


def test_report_errors(tmp_path):
    rep = Report("r")
    with pytest.raises(CocuError, match="not found"):
        rep.image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_text("nope")
    with pytest.raises(CocuError, match="not a readable image"):
        rep.image(tmp_path / "bad.png")
    with pytest.raises(CocuError, match="column"):
        rep.table([])
    with pytest.raises(CocuError, match="plain file name"):
        rep.write(tmp_path, name="../x")
