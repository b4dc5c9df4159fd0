"""``cocu serve``: a local web page to segment your own photos (standard library HTTP server).

Open the page, drop a photo, type label words (and optionally a concept for its activation map);
the page shows the overlay with a legend, the mask and the heatmap. One model is loaded once and
shared; requests run one at a time (a lock), so memory stays that of one `PhotoSegmenter` call.

Why not Gradio (the field's convention): ``gradio==6.31`` pulls 21 more packages (fastapi,
uvicorn, pandas, ...) and would downgrade the pinned Pillow; this page needs one form, one POST
and three images, which ``http.server`` serves with nothing installed, binds to 127.0.0.1 by
default, and a headless browser can drive in the tests.

API: ``POST /api/segment?labels=cat,sofa&bg=0.9&pamr=1&concept=cat`` with the image file as the
body → JSON ``{overlay, mask, heatmap: PNG data URLs, legend: [{id, name, colour, share}],
scores, size, seconds}``; errors → ``{"error": message}`` with status 400 (413 when too large).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import torch
from PIL import Image

from cocu.errors import CocuError

log = logging.getLogger(__name__)
MAX_UPLOAD = 64 << 20  # bytes
PREVIEW_SIDE = 1024  # longest side of the images the page shows

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cocu: segment your own photos</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:1200px;color:#222}
#drop{border:2px dashed #888;border-radius:8px;padding:1.2rem;text-align:center;cursor:pointer}
#drop.over{background:#eef}
label{display:block;margin:.6rem 0 .2rem}
input[type=text]{width:100%;padding:.35rem;font-size:1rem}
button{margin-top:.8rem;font-size:1rem;padding:.4rem 1.2rem}
.row{display:flex;gap:1rem;flex-wrap:wrap;margin-top:1rem}.row figure{margin:0;flex:1 1 300px}
.row img{max-width:100%;border:1px solid #ccc}
#legend li{list-style:none;margin:.2rem 0}#legend span.sw{display:inline-block;width:1em;height:1em;
margin-right:.4em;vertical-align:middle;border:1px solid #333}
#status{margin-top:.6rem;color:#555}#status.error{color:#b00}
</style></head><body>
<h1>Segment your own photo</h1>
<p>Checkpoint: <code>__CHECKPOINT__</code></p>
<form id="form">
<div id="drop">Drop a photo here or <input type="file" id="file" accept="image/*"></div>
<label for="labels">Label words (comma-separated)</label>
<input type="text" id="labels" value="person, sky, tree, grass, building">
<label for="concept">Concept for an activation map (optional)</label>
<input type="text" id="concept" value="">
<label for="bg">Background threshold (optional, 0..1)</label>
<input type="text" id="bg" value="">
<label><input type="checkbox" id="pamr"> PAMR refinement</label>
<button type="submit" id="run">Segment</button>
</form>
<div id="status"></div>
<div class="row">
<figure><img id="overlay" alt="overlay with legend"><figcaption>overlay</figcaption></figure>
<figure><img id="mask" alt="mask"><figcaption>mask</figcaption></figure>
<figure><img id="heatmap" alt="activation map"><figcaption id="heatcap">activation map</figcaption></figure>
</div>
<ul id="legend"></ul>
<script>
var picked = null;
var drop = document.getElementById("drop"), fileInput = document.getElementById("file");
fileInput.addEventListener("change", function () { picked = fileInput.files[0] || null; });
drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.className = "over"; });
drop.addEventListener("dragleave", function () { drop.className = ""; });
drop.addEventListener("drop", function (e) {
  e.preventDefault(); drop.className = ""; picked = e.dataTransfer.files[0] || null;
  document.getElementById("status").textContent = picked ? picked.name : "";
});
document.getElementById("form").addEventListener("submit", function (e) {
  e.preventDefault();
  var status = document.getElementById("status");
  if (!picked) { status.className = "error"; status.textContent = "choose a photo first"; return; }
  var q = new URLSearchParams({labels: document.getElementById("labels").value,
    concept: document.getElementById("concept").value, bg: document.getElementById("bg").value,
    pamr: document.getElementById("pamr").checked ? "1" : "0"});
  status.className = ""; status.textContent = "segmenting " + picked.name + " ...";
  fetch("/api/segment?" + q.toString(), {method: "POST", body: picked})
    .then(function (r) { return r.json(); })
    .then(function (res) {
      if (res.error) { status.className = "error"; status.textContent = res.error; return; }
      document.getElementById("overlay").src = res.overlay;
      document.getElementById("mask").src = res.mask;
      var heat = document.getElementById("heatmap");
      if (res.heatmap) { heat.src = res.heatmap; document.getElementById("heatcap").textContent =
        "activation map: " + res.concept; } else { heat.removeAttribute("src"); }
      var ul = document.getElementById("legend"); ul.innerHTML = "";
      res.legend.forEach(function (it) {
        var li = document.createElement("li"); li.className = "entry";
        var sw = document.createElement("span"); sw.className = "sw"; sw.style.background = it.colour;
        li.appendChild(sw); li.appendChild(document.createTextNode(it.name + " " +
          (100 * it.share).toFixed(1) + "%"));
        ul.appendChild(li);
      });
      status.textContent = "done: " + res.size[1] + " x " + res.size[0] + " px in " +
        res.seconds.toFixed(2) + " s";
      document.body.setAttribute("data-done", "1");
    })
    .catch(function (err) { status.className = "error"; status.textContent = String(err); });
});
</script></body></html>
"""


def _png_data_url(image: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _heatmap_rgb(image: np.ndarray, act: np.ndarray) -> np.ndarray:
    """Activation [H, W] as a viridis colour map blended 60/40 over the photo → uint8 [H, W, 3]."""
    from matplotlib import colormaps

    lo, hi = float(act.min()), float(act.max())
    norm = (act - lo) / (hi - lo) if hi > lo else np.zeros_like(act)
    colour = colormaps["viridis"](norm)[..., :3] * 255.0
    return np.rint(0.6 * colour + 0.4 * image.astype(np.float64)).astype(np.uint8)


class SegmentService:
    """The work behind the page: one model, one request at a time."""

    def __init__(self, model: torch.nn.Module, checkpoint: str = "") -> None:
        self.model = model.eval()
        self.checkpoint = checkpoint
        self.lock = threading.Lock()

    def segment(self, data: bytes, labels: str, bg: str = "", pamr: bool = False, concept: str = "") -> dict:
        from cocu.data.images import open_photo
        from cocu.viz.masks import legend_entries
        from cocu.viz.palette import palette
        from cocu.viz.segment import PhotoSegmenter

        if not data:
            raise CocuError("no image in the request")
        try:
            bg_thresh = float(bg) if bg.strip() else None
        except ValueError:
            raise CocuError(f"background threshold must be a number in [0, 1], got {bg!r}") from None
        start = time.perf_counter()
        with self.lock, torch.no_grad():
            seg = PhotoSegmenter(self.model, labels, bg_thresh, pamr=pamr)
            res = seg.segment(data, overlay_max_side=PREVIEW_SIDE)
            view = open_photo(data, min_side=PREVIEW_SIDE // 2)
            small = np.asarray(view.image.resize(_preview_size(res.mask.shape), Image.BILINEAR))
            mask_small = np.asarray(Image.fromarray(res.mask).resize(small.shape[1::-1], Image.NEAREST))
            heat = None
            if concept.strip():
                from cocu.viz.heatmap import concept_activation_maps

                heat = _png_data_url(_heatmap_rgb(small, concept_activation_maps(self.model, small,
                                                                                  [concept.strip()])[0]))
        pal = palette()
        shares = res.fractions()
        legend = [{"id": cid, "name": name, "share": shares[name],
                   "colour": "#%02x%02x%02x" % tuple(int(v) for v in pal[cid])}
                  for cid, name in legend_entries(res.mask, res.labels)]
        colour_mask = pal[mask_small]
        return {"overlay": _png_data_url(res.overlay), "mask": _png_data_url(colour_mask), "heatmap": heat,
                "concept": concept.strip() or None, "legend": legend, "scores": res.scores,
                "size": list(res.mask.shape), "seconds": time.perf_counter() - start}


def _preview_size(size: tuple[int, int]) -> tuple[int, int]:
    """(W, H) of the page's images for a photo of ``size`` = (H, W)."""
    h, w = size
    f = min(1.0, PREVIEW_SIDE / max(h, w))
    return max(1, int(w * f + 0.5)), max(1, int(h * f + 0.5))


def make_handler(service: SegmentService) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``service``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "cocu-serve"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: dict) -> None:
            self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = urlparse(self.path).path
            if path in ("/", "/index.html"):
                page = PAGE.replace("__CHECKPOINT__", _html_escape(service.checkpoint))
                self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")
            elif path == "/healthz":
                self._json(HTTPStatus.OK, {"ok": True})
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            if url.path != "/api/segment":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {url.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_UPLOAD:
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           {"error": f"upload of {length} bytes is over the {MAX_UPLOAD >> 20} MiB limit"})
                return
            data = self.rfile.read(length) if length else b""
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            try:
                out = service.segment(data, q.get("labels", ""), q.get("bg", ""), q.get("pamr") == "1",
                                      q.get("concept", ""))
            except CocuError as exc:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            except Exception as exc:  # noqa: BLE001  (the page shows it; the server keeps serving)
                log.exception("segment request failed")
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(exc).__name__}: {exc}"})
                return
            self._json(HTTPStatus.OK, out)

    return Handler


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_server(model: torch.nn.Module, checkpoint: str = "", host: str = "127.0.0.1", port: int = 7860
                ) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) for the page; ``port=0`` picks a free port
    (``server.server_address[1]``)."""
    try:
        server = ThreadingHTTPServer((host, port), make_handler(SegmentService(model, checkpoint)))
    except OSError as exc:
        raise CocuError(f"cannot listen on {host}:{port}: {exc}") from exc
    server.daemon_threads = True
    return server
