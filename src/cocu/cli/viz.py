"""CLI commands of the `viz` stage: ``cocu segment``, ``cocu serve``, ``cocu heatmap``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cocu.errors import CocuError
from cocu.cli.flags import (GATE_CHOICES, add_background_words, add_checkpoint, add_device, add_vocab, float_at_least,
                            int_at_least)
from cocu.utils.io import check_output


def _load_model(path: str, device: str) -> Any:
    from cocu.models.checkpoint import load_model
    from cocu.utils.device import resolve_device

    return load_model(path, map_location=resolve_device(device))


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return "n/a" if x != x else f"{x:+.4f}"


# ----------------------------------------------------------------------------- segment


def run_segment(args: argparse.Namespace) -> int:
    from cocu.data.images import list_images
    from cocu.viz.segment import PhotoSegmenter, protocol_for, segment_images

    check_output(args.out, "dir", "--out")
    files = list_images(args.images)  # bad paths fail before the model loads
    model = _load_model(args.checkpoint, args.device)
    segmenter = PhotoSegmenter(model, args.labels, args.background_threshold,
                               protocol=protocol_for(model, args.short_side, args.window, args.gate), pamr=args.pamr,
                               background_words=args.background_words)
    items = segment_images(segmenter, files, args.out, skip_existing=args.skip_existing,
                           overlay_max_side=args.overlay_max_side, alpha=args.alpha, keep_results=True)
    if len(items) == 1 and items[0].error:
        raise CocuError(items[0].error)
    for item in items:
        if item.error:
            print(f"{item.source}: error: {item.error}", file=sys.stderr)
        elif item.skipped:
            print(f"{item.source}: skipped (output exists: {item.paths['json']})")
        elif len(items) == 1:
            res = item.result
            fractions = res.fractions()
            print(f"{'label':<20} {'id':>3} {'pixels':>7} {'image score':>11}")
            for k, name in enumerate(res.labels):
                print(f"{name:<20} {k:>3} {fractions[name]:>7.1%} {_fmt(res.scores.get(name)):>11}")
            for kind, path in item.paths.items():
                print(f"{kind}: {path}")
        else:
            shares = ", ".join(f"{n} {f:.0%}" for n, f in item.result.fractions().items() if f > 0)
            print(f"{item.source}: {item.paths['overlay' if 'overlay' in item.paths else 'mask']} ({shares}; "
                  f"{item.result.info['seconds']:.2f} s)")
    failed = sum(1 for i in items if i.error)
    if len(items) > 1:
        print(f"{len(items) - failed} of {len(items)} images segmented into {args.out}"
              + (f"; {failed} could not be read" if failed else ""))
    if failed:
        raise CocuError(f"{failed} of {len(items)} images could not be segmented (see above)")
    return 0


# ----------------------------------------------------------------------------- serve


def run_serve(args: argparse.Namespace) -> int:
    from cocu.viz.serve import make_server

    model = _load_model(args.checkpoint, args.device)
    server = make_server(model, args.checkpoint, args.host, args.port)
    host, port = server.server_address[:2]
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who can reach this machine can use the page",
              file=sys.stderr)
    print(f"cocu serve: open http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/ "
          "(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("cocu serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


# ----------------------------------------------------------------------------- heatmap


def _with_synonyms(specs: list, vocab_arg: str | None, use_vocab: bool) -> list:
    """Fill in synonyms from a vocabulary for concepts written without ``|`` synonyms."""
    if not use_vocab:
        return specs
    from cocu.data.vocab import resolve_vocabulary

    vocab = resolve_vocabulary(vocab_arg)  # no data folder: --vocab or the packaged one
    for spec in specs:
        if spec.synonyms:
            continue
        try:
            names = vocab.synonyms(vocab.index(spec.name))
        except CocuError:
            continue
        spec.synonyms = [n for n in names if n.lower() != spec.name.lower()]
    return specs


def _mask_classes(text: str | None, n: int) -> list[int | None]:
    if text is None:
        return [None] * n
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CocuError(f"--mask-class must be an id or one id per concept, got {text!r}") from None
    if len(ids) == 1:
        return ids * n
    if len(ids) != n:
        raise CocuError(f"--mask-class has {len(ids)} ids for {n} concepts (give one, or one each)")
    return ids


def run_heatmap(args: argparse.Namespace) -> int:
    from cocu.utils.io import write_json
    from cocu.viz.heatmap import compare_heatmaps, parse_concepts
    from cocu.viz.images import load_image, load_mask
    from cocu.viz.plots import render_heatmaps

    check_output(args.out, "file", "--out")
    check_output(Path(args.out).with_suffix(".json"), "file", "scores file")
    specs = _with_synonyms(parse_concepts(args.concepts), args.vocab, not args.no_synonyms)
    if (args.mask is None) != (args.mask_class is None):
        raise CocuError("--mask and --mask-class go together")
    for spec, cid in zip(specs, _mask_classes(args.mask_class, len(specs))):
        spec.mask_class = cid
    image = load_image(args.image)
    mask = load_mask(args.mask) if args.mask else None
    if mask is not None:
        for spec in specs:
            if not (mask == spec.mask_class).any():
                raise CocuError(f"mask {args.mask} has no pixel of class {spec.mask_class}")
    names = [args.name or Path(args.checkpoint).stem]
    paths = [args.checkpoint]
    if args.compare:
        names.append(args.compare_name or Path(args.compare).stem)
        paths.append(args.compare)
    if len(set(names)) < len(names):
        names = [f"{n} ({k + 1})" for k, n in enumerate(names)]
    models = {n: _load_model(p, args.device) for n, p in zip(names, paths)}
    result = compare_heatmaps(models, image, specs, mask, input_size=args.input_size)
    out = Path(args.out)
    render_heatmaps(image, result.maps, result.concepts, out, scale=args.scale,
                    title=f"{Path(args.image).name}: concept activation maps")
    rows = [s.as_row() for s in result.scores]
    write_json(out.with_suffix(".json"), {"image": str(args.image), "mask": args.mask,
                                          "checkpoints": dict(zip(names, paths)), "scores": rows})
    print("region = mean activation on the concept's mask region minus elsewhere (cosine units); "
          "syn r = mean pairwise Pearson r of the synonyms' maps; other r = mean r with the other "
          "concepts' maps (the level syn r should beat)")
    print(f"{'checkpoint':<20} {'concept':<16} {'region':>9} {'syn r':>9} {'other r':>9}  synonyms used")
    for s in result.scores:
        print(f"{s.checkpoint:<20} {s.concept:<16} {_fmt(s.region_contrast):>9} "
              f"{_fmt(s.synonym_consistency):>9} {_fmt(s.other_consistency):>9}  "
              f"{', '.join(s.synonyms) or '-'}")
    print(f"figure: {out}\nscores: {out.with_suffix('.json')}")
    return 0


# ----------------------------------------------------------------------------- registration


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segment``, ``serve`` and ``heatmap`` to ``sub``."""
    p = sub.add_parser("segment", help="segment photos into label words: mask PNG, overlay PNG, JSON",
                       description="Zero-shot segmentation of photos into the given label words. Any format "
                       "Pillow reads (EXIF orientation, alpha, greyscale, 16-bit, CMYK, WebP, first GIF frame) "
                       "and any size (memory stays bounded). For each image writes OUT/<stem>_mask.png "
                       "(palette PNG at full resolution: 0 = background, k = k-th label), "
                       "OUT/<stem>_overlay.png (with a legend of the labels present) and "
                       "OUT/<stem>_segment.json (per-label pixel share and image score).")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files, folders of images and/or globs such as 'photos/*.jpg'")
    add_checkpoint(p)
    p.add_argument("--labels", required=True, help='comma-separated label words, e.g. "cat, sofa, floor"')
    p.add_argument("--background-threshold", type=float_at_least(0), default=None, metavar="T",
                   help="pixels whose best class score is under T become background (e.g. 0.95 as for VOC)")
    add_background_words(p)
    p.add_argument("--pamr", action="store_true", help="refine each window's scores with PAMR (as TCL evaluates)")
    p.add_argument("--out", default="segment_out", help="output folder (default: segment_out)")
    p.add_argument("--alpha", type=float_at_least(0), default=0.5, help="overlay opacity of the mask colours")
    p.add_argument("--overlay-max-side", type=int_at_least(0), default=2048, metavar="PX",
                   help="longest side of the overlay PNG (the mask is always full size; 0 = no overlay)")
    p.add_argument("--short-side", type=int_at_least(1), default=None,
                   help="resize the image's short side to this before the sliding window (default: by model size)")
    p.add_argument("--window", type=int_at_least(1), default=None,
                   help="sliding window size (with --short-side; default: the short side)")
    p.add_argument("--gate", choices=GATE_CHOICES, default=None,
                   help="what picks the 5 labels a window may use: the image embedding (GroupViT's "
                        "inference, the default) or each label's best group (better for the tiny CPU models)")
    p.add_argument("--skip-existing", action="store_true", help="skip images whose JSON is already in --out")
    add_device(p)
    p.set_defaults(func=run_segment)

    v = sub.add_parser("serve", help="local web page: drop a photo, type labels, see mask, overlay and heatmap",
                       description="Serve a web page on this machine where you drop a photo, type label words "
                       "(and optionally a concept) and see the overlay with a legend, the mask and the concept's "
                       "activation map. Listens on 127.0.0.1 unless --host says otherwise.")
    add_checkpoint(v)
    v.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 = any free port)")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    add_device(v)
    v.set_defaults(func=run_serve)

    h = sub.add_parser("heatmap", help="concept activation maps of an image, for one or two checkpoints",
                       description="Per-concept activation maps (the similarity of each pixel's group "
                       "to the concept's text embedding) over IMAGE, side by side for two checkpoints, "
                       "with two scores per concept: region contrast (needs --mask/--mask-class) and "
                       "synonym consistency (synonyms from the vocabulary, or written as dog|puppy|kuvasz).")
    h.add_argument("image", help="image file")
    add_checkpoint(h, help="first checkpoint (or preset name)")
    h.add_argument("--compare", default=None, help="second checkpoint to show beside the first")
    h.add_argument("--name", default=None, help="row label of --checkpoint (default: file stem)")
    h.add_argument("--compare-name", default=None, help="row label of --compare (default: file stem)")
    h.add_argument("--concepts", required=True,
                   help='comma-separated concepts, e.g. "dog, kuvasz, grass"; "dog|puppy" gives synonyms explicitly')
    h.add_argument("--mask", default=None, help="label mask PNG of the image (palette or greyscale ids)")
    h.add_argument("--mask-class", default=None, metavar="ID",
                   help="class id of the concepts' true region in --mask: one id for all, or one per concept (3,3,12)")
    add_vocab(h, help="vocabulary file for synonyms (default: the packaged vocabulary)")
    h.add_argument("--no-synonyms", action="store_true", help="do not look synonyms up in a vocabulary")
    h.add_argument("--scale", choices=("map", "row", "global"), default="map",
                   help="colour limits per map (default), per checkpoint, or one for all")
    h.add_argument("--input-size", type=int_at_least(1), default=None, help="model input short side (default: its training size)")
    h.add_argument("--out", default="heatmap.png", help="figure path (scores go to the same name .json)")
    add_device(h)
    h.set_defaults(func=run_heatmap)
