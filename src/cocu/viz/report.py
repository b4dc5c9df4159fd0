"""Self-contained HTML reports (images embedded as data URIs) with a markdown twin.

    rep = Report("Ablation")
    rep.section("Results")
    rep.text("Mean of **3 seeds**; `mIoU` in [0, 1].")
    rep.table([{"model": "baseline", "mIoU": 0.04}], caption="Table 1")
    rep.image("bars.png", "Figure 1: mIoU per model")
    html_path, md_path = rep.write("out/")

The markdown twin references copies of the images in ``<name>_files/`` beside it.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from cocu.errors import CocuError
from cocu.utils.io import atomic_open, atomic_path

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em; line-height: 1.5; }
h1 { border-bottom: 2px solid #3a6ea5; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; color: #1d3f66; }
code, pre { font-family: Menlo, Consolas, monospace; background: #f3f4f6; border-radius: 3px; }
code { padding: 0 .25em; } pre { padding: .7em; overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3em; }
th, td { border: 1px solid #d0d4da; padding: .3em .7em; }
th { background: #eef2f7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #e3e3e3; }
figcaption { font-size: .9em; color: #555; margin-top: .3em; }
nav.toc { background: #f7f9fb; border: 1px solid #e3e7ec; padding: .5em 1em; display: inline-block; }
"""

ImageSource = Union[str, os.PathLike, np.ndarray, Image.Image]


# ----------------------------------------------------------------------------- markdown-ish


def _inline(text: str) -> str:
    """Escape ``text`` and render `code`, **bold**, *italic* and [links](url)."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        s = html.escape(part, quote=False)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)
        s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)",
                   lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', s)
        out.append(s)
    return "".join(out)


def markdown_to_html(md: str) -> str:
    """A small markdown subset: paragraphs, ``#``–``###`` headings (as h3–h5), ``-``/``*`` and
    ``1.`` lists, fenced code blocks, and inline code, bold, italic and links."""
    lines = md.strip("\n").splitlines()
    out: list[str] = []
    para: list[str] = []
    list_tag: str | None = None
    i = 0

    def flush_para() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(p.strip() for p in para))}</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush_para()
            close_list()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(lines[i + 1:j]))}</code></pre>")
            i = j + 1
            continue
        m_head = re.match(r"^(#{1,3})\s+(.*)$", stripped)
        m_ul = re.match(r"^[-*]\s+(.*)$", stripped)
        m_ol = re.match(r"^\d+[.)]\s+(.*)$", stripped)
        if not stripped:
            flush_para()
            close_list()
        elif m_head:
            flush_para()
            close_list()
            level = len(m_head.group(1)) + 2
            out.append(f"<h{level}>{_inline(m_head.group(2))}</h{level}>")
        elif m_ul or m_ol:
            flush_para()
            tag = "ul" if m_ul else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline((m_ul or m_ol).group(1))}</li>")
        elif list_tag and line.startswith((" ", "\t")):
            out[-1] = out[-1][: -len("</li>")] + " " + _inline(stripped) + "</li>"
        else:
            close_list()
            para.append(line)
        i += 1
    flush_para()
    close_list()
    return "\n".join(out)


# ----------------------------------------------------------------------------- cells


def format_cell(value: Any, float_fmt: str = "{:.4g}") -> str:
    """Floats with 4 significant digits, NaN as ``n/a``, None as empty, the rest ``str``."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return "n/a" if math.isnan(float(value)) else float_fmt.format(float(value))
    return str(value)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- blocks


@dataclass
class _Image:
    data: bytes
    fmt: str  # "png" | "jpeg" | "gif" | "svg+xml"
    caption: str
    width: int | None = None


def _image_bytes(src: ImageSource) -> tuple[bytes, str]:
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise CocuError(f"report image not found: {path}")
        data = path.read_bytes()
        if path.suffix.lower() == ".svg":
            return data, "svg+xml"
        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt = (im.format or "").lower()
                if fmt in ("png", "jpeg", "gif"):
                    return data, fmt
                im.load()
                src = im.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise CocuError(f"report image {path} is not a readable image: {exc}") from exc
    if isinstance(src, np.ndarray):
        arr = src
        if np.issubdtype(arr.dtype, np.floating):
            arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
        if arr.ndim not in (2, 3) or arr.dtype != np.uint8:
            raise CocuError(f"report image array must be uint8 [H, W(, 3|4)], got {arr.dtype} {arr.shape}")
        src = Image.fromarray(arr)
    if isinstance(src, Image.Image):
        buf = io.BytesIO()
        src.save(buf, format="PNG")
        return buf.getvalue(), "png"
    raise CocuError(f"report image must be a path, array or PIL image, got {type(src).__name__}")


def _slug(text: str, default: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]
    return slug or default


class Report:
    """An ordered list of blocks (sections, text, tables, images) rendered as HTML + markdown."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._blocks: list[tuple[str, Any]] = []

    def section(self, title: str) -> Report:
        """Start a new section (an ``<h2>``)."""
        self._blocks.append(("section", title))
        return self

    def text(self, md: str) -> Report:
        """A markdown paragraph block (subset: see ``markdown_to_html``)."""
        self._blocks.append(("text", md))
        return self

    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
              caption: str | None = None) -> Report:
        """A table from dicts; ``columns`` default to every key in order of first appearance.
        Missing keys are blank cells; floats show 4 significant digits."""
        rows = [dict(r) for r in rows]
        if columns is None:
            columns = list(dict.fromkeys(k for r in rows for k in r))
        if not columns:
            raise CocuError("a table needs at least one column")
        self._blocks.append(("table", (rows, list(columns), caption)))
        return self

    def image(self, path_or_array: ImageSource, caption: str = "", width: int | None = None
              ) -> Report:
        """An image (path to PNG/JPEG/GIF/SVG, uint8 array or PIL image), read now.
        ``width`` sets the displayed width in CSS pixels (small images are scaled up sharply)."""
        data, fmt = _image_bytes(path_or_array)
        self._blocks.append(("image", _Image(data, fmt, caption, width)))
        return self

    @property
    def num_images(self) -> int:
        return sum(kind == "image" for kind, _ in self._blocks)

    # ------------------------------------------------------------------ rendering

    def _section_ids(self) -> list[str]:
        ids, seen = [], set()
        for kind, value in self._blocks:
            if kind == "section":
                base = _slug(value, "section")
                sid, k = base, 2
                while sid in seen:
                    sid, k = f"{base}-{k}", k + 1
                seen.add(sid)
                ids.append(sid)
        return ids

    def to_html(self) -> str:
        """The whole report as one HTML document (no external resources)."""
        sids = iter(self._section_ids())
        sections = [v for k, v in self._blocks if k == "section"]
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        if len(sections) >= 3:
            toc_ids = self._section_ids()
            items = "".join(f'<li><a href="#{i}">{html.escape(t)}</a></li>'
                            for i, t in zip(toc_ids, sections))
            body.append(f'<nav class="toc"><strong>Contents</strong><ul>{items}</ul></nav>')
        for kind, value in self._blocks:
            if kind == "section":
                body.append(f'<h2 id="{next(sids)}">{html.escape(value)}</h2>')
            elif kind == "text":
                body.append(markdown_to_html(value))
            elif kind == "table":
                body.append(self._html_table(*value))
            elif kind == "image":
                b64 = base64.b64encode(value.data).decode("ascii")
                cap = f"<figcaption>{_inline(value.caption)}</figcaption>" if value.caption else ""
                alt = html.escape(value.caption or "image")
                style = (f' style="width:{int(value.width)}px;image-rendering:pixelated"'
                         if value.width else "")
                body.append(f'<figure><img src="data:image/{value.fmt};base64,{b64}" alt="{alt}"{style}>'
                            f"{cap}</figure>")
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"<title>{html.escape(self.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
                + "\n".join(body) + "\n</body>\n</html>\n")

    @staticmethod
    def _html_table(rows: list[dict], columns: list[str], caption: str | None) -> str:
        cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = []
        for r in rows:
            cells = []
            for c in columns:
                v = r.get(c)
                cls = ' class="num"' if _is_num(v) else ""
                cells.append(f"<td{cls}>{html.escape(format_cell(v))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return (f"<table>{cap}<thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>")

    def to_markdown(self, image_paths: Sequence[str]) -> str:
        """The report as markdown, images referenced by ``image_paths`` (in order)."""
        paths = iter(image_paths)
        out = [f"# {self.title}", ""]
        for kind, value in self._blocks:
            if kind == "section":
                out += [f"## {value}", ""]
            elif kind == "text":
                out += [value.strip("\n"), ""]
            elif kind == "table":
                rows, columns, caption = value
                if caption:
                    out += [f"**{caption}**", ""]

                def cell(x: Any) -> str:
                    return format_cell(x).replace("|", "\\|").replace("\n", " ")

                out.append("| " + " | ".join(cell(c) for c in columns) + " |")
                out.append("|" + "|".join("---:" if any(_is_num(r.get(c)) for r in rows) else "---"
                                          for c in columns) + "|")
                out += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
                out.append("")
            elif kind == "image":
                alt = value.caption.replace("]", ")") or "image"
                out.append(f"![{alt}]({next(paths)})")
                if value.caption:
                    out += ["", f"*{value.caption}*"]
                out.append("")
        return "\n".join(out).rstrip("\n") + "\n"

    def write(self, out_dir: str | os.PathLike, name: str = "report") -> tuple[Path, Path]:
        """Write ``out_dir/name.html`` (self-contained) and ``out_dir/name.md`` (images copied to
        ``out_dir/name_files/``), atomically; returns (html_path, md_path)."""
        if not re.fullmatch(r"[\w.-]+", name):
            raise CocuError(f"report name must be a plain file name, got {name!r}")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        rel_paths = []
        files_dir = f"{name}_files"
        k = 0
        for kind, value in self._blocks:
            if kind != "image":
                continue
            k += 1
            ext = {"jpeg": "jpg", "svg+xml": "svg"}.get(value.fmt, value.fmt)
            rel = f"{files_dir}/{k:02d}-{_slug(value.caption, 'image')}.{ext}"
            with atomic_path(out_dir / rel) as tmp:
                tmp.write_bytes(value.data)
            rel_paths.append(rel)
        html_path, md_path = out_dir / f"{name}.html", out_dir / f"{name}.md"
        with atomic_open(html_path, "w", encoding="utf-8") as fh:
            fh.write(self.to_html())
        with atomic_open(md_path, "w", encoding="utf-8") as fh:
            fh.write(self.to_markdown(rel_paths))
        return html_path, md_path
