"""Render a report in headless Chromium: every image decodes (naturalWidth > 0), tables exist.

The report itself carries no script. The test writes a *copy* of it with a check script
appended; after the load event the script writes its findings into a <pre> node, which the
test reads from ``chromium --dump-dom``. A second copy with a deliberately broken image shows
the check can fail.
"""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from cocu.viz.plots import bar_chart
from cocu.viz.report import Report

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(.ci/run installs Debian's chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio"]

CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var tables = Array.prototype.slice.call(document.querySelectorAll("table"));
  var res = {
    images: imgs.length,
    widths: imgs.map(function (i) { return i.complete ? i.naturalWidth : -1; }),
    tables: tables.length,
    rows: tables.map(function (t) { return t.tBodies[0] ? t.tBodies[0].rows.length : 0; }),
    headers: tables.map(function (t) {
      return Array.prototype.map.call(t.querySelectorAll("th"), function (h) { return h.textContent; });
    })
  };
  var pre = document.createElement("pre");
  pre.id = "cocu-check";
  pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
});
</script>"""


def _chromium(tmp_path, *args):
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def _check(tmp_path, html_path):
    page = tmp_path / f"check_{html_path.name}"
    page.write_text(html_path.read_text().replace("</body>", CHECK_SCRIPT + "\n</body>"))
    proc = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page.as_uri())
    m = re.search(r'<pre id="cocu-check">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"check node missing from the DOM dump (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    chart = bar_chart(tmp / "bars.png", ["Baseline", "CoCu", "Oracle"], {"mIoU": [0.04, 0.1, 0.15]},
                      title="mIoU", ylabel="mIoU")
    arr = np.zeros((32, 48, 3), np.uint8)
    arr[:, :24] = (200, 30, 30)
    rep = Report("Browser check")
    rep.section("Results").text("Two images and a table; **mean** of 3 seeds.")
    rep.table([{"model": "Baseline", "mIoU": 0.04, "recall": 0.58},
               {"model": "CoCu", "mIoU": 0.1, "recall": 0.81}], caption="Table 1: ablation")
    rep.image(chart, "Figure 1: mIoU per model")
    rep.image(arr, "Figure 2: an array", width=192)
    html_path, _ = rep.write(tmp / "out")
    return tmp, html_path


def test_report_renders_in_chromium(report, tmp_path):
    _, html_path = report
    res = _check(tmp_path, html_path)
    assert res["images"] == 2
    assert res["widths"][0] == Image.open(report[0] / "bars.png").width
    assert res["widths"][1] == 48
    assert all(w > 0 for w in res["widths"])
    assert res["tables"] == 1 and res["rows"] == [2]
    assert res["headers"] == [["model", "mIoU", "recall"]]

    shot = tmp_path / "report.png"
    proc = _chromium(tmp_path, "--window-size=1200,1600", f"--screenshot={shot}", html_path.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1200, 1600)
        px = np.asarray(im.convert("RGB"))
    assert (px < 250).any(axis=2).mean() > 0.02   # something was drawn, not a blank page
    print(f"screenshot: {shot}")


def test_check_detects_a_broken_image(report, tmp_path):
    _, html_path = report
    broken = tmp_path / "broken.html"
    html = html_path.read_text()
    html = html.replace('src="data:image/png;base64,', 'src="data:image/png;base64,AAAA', 1)
    broken.write_text(html.replace("<table>", "<div>", 1).replace("</table>", "</div>", 1))
    res = _check(tmp_path, broken)
    assert res["images"] == 2
    assert res["widths"][0] == 0 and res["widths"][1] == 48
    assert res["tables"] == 0
