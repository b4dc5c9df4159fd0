"""``cocu serve`` driven by headless Chromium over the DevTools protocol: the test starts the server
on 127.0.0.1, opens the page, puts a photo (scikit-image's astronaut) into the file input, types
labels and a concept, clicks Segment, waits for the result, checks that the three images decode
(naturalWidth > 0) and that the legend names the labels the mask holds, then stops the server."""

import base64
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from cocu.models.groupvit import multiply_assignments
from cocu.viz.segment import segment_image
from cocu.viz.serve import make_server
from tests.viz.test_segment import ColourGroupModel

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(.ci/run installs Debian's chromium)")
import websocket  # noqa: E402  (websocket-client, pinned in requirements.txt)
LABELS = "cat, sofa, floor"


class ColourModel(ColourGroupModel):
    """The colour-following test model, with the ``seg_maps()`` activation maps need."""

    def encode_image(self, images, **kwargs):
        out = super().encode_image(images, **kwargs)
        out.seg_maps = lambda: multiply_assignments(out.attn_soft, out.grid)
        return out


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, url: str):
        self.ws = websocket.create_connection(url, timeout=60)
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return res.get("result", {}).get("value")

    def wait(self, expression: str, timeout: float = 180.0) -> None:
        end = time.monotonic() + timeout
        while not self.js(expression):
            if time.monotonic() > end:
                status = self.js("document.getElementById('status').textContent")
                raise TimeoutError(f"page never satisfied {expression}; status: {status!r}")
            time.sleep(0.25)


def _start_chromium(tmp_path):
    profile = tmp_path / "profile"
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1280,1500",
                             "--hide-scrollbars", f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    for _ in range(240):
        if port_file.is_file() and port_file.read_text().strip():
            break
        time.sleep(0.25)
    port = int(port_file.read_text().split()[0])
    for _ in range(40):
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return proc, pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.25)
    raise RuntimeError("chromium opened no page")


def test_upload_labels_result_and_legend(tmp_path):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(photo, quality=92)
    model = ColourModel(patch=8, image_size=64)  # its groups follow colour: the mask holds 2+ labels
    expected = segment_image(model, photo, LABELS).present()
    assert len(expected) >= 2

    server = make_server(model, "colour-model", host="127.0.0.1", port=0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    browser = None
    try:
        browser, ws_url = _start_chromium(tmp_path)
        page = DevTools(ws_url)
        page.call("Page.enable")
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
        page.wait("document.readyState === 'complete' && !!document.getElementById('file')")
        root = page.call("DOM.getDocument")["root"]["nodeId"]
        node = page.call("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
        page.call("DOM.setFileInputFiles", files=[str(photo)], nodeId=node)
        page.js(f"document.getElementById('labels').value = {json.dumps(LABELS)};"
                "document.getElementById('concept').value = 'cat';"
                "document.getElementById('run').click(); true")
        page.wait("document.body.getAttribute('data-done') === '1'")
        page.wait("['overlay','mask','heatmap'].every(function (i) {"
                  "var im = document.getElementById(i); return im.complete && im.naturalWidth > 0; })", 30)
        found = page.js("JSON.stringify({w: ['overlay','mask','heatmap'].map(function (i) {"
                        "return document.getElementById(i).naturalWidth; }),"
                        "legend: Array.prototype.map.call(document.querySelectorAll('#legend li'),"
                        "function (li) { return li.textContent; }),"
                        "status: document.getElementById('status').textContent})")
        found = json.loads(found)
        assert all(w > 0 for w in found["w"]), found
        assert found["w"][0] > found["w"][1]  # the overlay carries its drawn legend on the right
        names = [text.rsplit(" ", 1)[0] for text in found["legend"]]
        assert names == expected, found
        assert "512 x 512" in found["status"]
        shot = page.call("Page.captureScreenshot", format="png")["data"]
        target = os.environ.get("COCU_SERVE_SCREENSHOT") or str(tmp_path / "serve.png")
        with open(target, "wb") as fh:
            fh.write(base64.b64decode(shot))
        assert np.asarray(Image.open(target)).shape[0] > 100
        # a bad upload gets a one-line error on the page, not a broken page
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"not an image")
        page.call("DOM.setFileInputFiles", files=[str(bad)], nodeId=node)
        page.js("document.body.removeAttribute('data-done'); document.getElementById('run').click(); true")
        page.wait("document.getElementById('status').className === 'error'", 60)
        assert "cannot read image" in page.js("document.getElementById('status').textContent")
    finally:
        if browser is not None:
            browser.kill()
            browser.wait(timeout=30)
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
    assert not thread.is_alive()
