"""A literal, one-window-at-a-time re-statement of the official GroupViT inference
(NVlabs/GroupViT segmentation/evaluation/group_vit_seg.py inside mmseg 0.18 slide_inference),
kept deliberately naive to check the batched implementation against."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def ref_text_embedding(model, class_names, templates, tokenize):
    """build_text_embedding: encode [N*T] prompts, mean over templates, then normalise."""
    rows = []
    for name in class_names:
        ids = tokenize([t.format(name) for t in templates])
        rows.append(model.encode_text(ids).mean(dim=0))
    return F.normalize(torch.stack(rows), dim=-1)


def ref_resize_attn_map(attentions, h, w):
    """[B, nH, H*W, G] -> [B, nH, h, w, G] with the official grid inference."""
    scale = (h * w // attentions.shape[2]) ** 0.5
    if h > w:
        w_featmap = w // int(np.round(scale))
        h_featmap = attentions.shape[2] // w_featmap
    else:
        h_featmap = h // int(np.round(scale))
        w_featmap = attentions.shape[2] // h_featmap
    bs, nh, _, groups = attentions.shape
    x = attentions.reshape(bs * nh, h_featmap, w_featmap, groups).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return x.permute(0, 2, 3, 1).reshape(bs, nh, h, w, groups)


def ref_encode_decode(model, img, text, with_bg, bg_thresh, gate="image"):
    """One window [1, 3, h, w] -> [1, K, h, w], step by step as the official code (``gate="groups"``:
    ours, the top-5 classes ranked by their best group's score, one class at a time)."""
    out = model.encode_image(img, return_feat=True, return_attn=True)
    prev = None
    for soft in out.attn_soft:
        a = soft.unsqueeze(1).transpose(2, 3)  # [B, nH=1, N, G]
        prev = a if prev is None else prev @ a
    attn_map = ref_resize_attn_map(prev, *img.shape[-2:])[:, 0][0]  # [H, W, G]
    grouped = F.normalize(out.image_feat[0], dim=-1)
    avg = F.normalize(out.image_x, dim=-1)
    onehot = F.one_hot(attn_map.argmax(dim=-1), num_classes=attn_map.shape[-1]).to(attn_map.dtype)
    n = text.shape[0]
    offset = 1 if with_bg else 0
    logit_scale = torch.clamp(model.logit_scale.exp(), max=100)
    aff = (grouped @ text.T) * logit_scale
    pre = F.softmax(aff, dim=-1)
    avg_aff = F.softmax((avg @ text.T) * logit_scale, dim=-1)
    if gate == "groups":
        avg_aff = torch.tensor([[max(pre[g, c].item() for g in range(pre.shape[0])) for c in range(n)]])
    mask = torch.zeros_like(avg_aff)
    top = avg_aff.topk(dim=-1, k=min(5, n))
    mask.scatter_add_(dim=-1, index=top.indices, src=torch.ones_like(top.values))
    aff = aff.masked_fill(~mask.bool(), float("-inf"))
    aff = F.softmax(aff, dim=-1)
    aff = aff * pre
    logits = torch.zeros(n + offset, *attn_map.shape[:2], dtype=img.dtype)
    logits[offset:] = (onehot @ aff).permute(2, 0, 1)
    if with_bg:
        thr = min(bg_thresh, aff.max().item())
        logits[0, (onehot @ aff).max(dim=-1).values < thr] = 1
    return logits[None]


def ref_slide(model, img, text, with_bg, bg_thresh, crop, stride, ori_shape):
    """mmseg 0.18 slide_inference + simple_test (softmax, argmax) for one image [1, 3, H, W]."""
    _, _, h_img, w_img = img.shape
    k = text.shape[0] + (1 if with_bg else 0)
    h_grids = max(h_img - crop + stride - 1, 0) // stride + 1
    w_grids = max(w_img - crop + stride - 1, 0) // stride + 1
    preds = img.new_zeros((1, k, h_img, w_img))
    count = img.new_zeros((1, 1, h_img, w_img))
    for hi in range(h_grids):
        for wi in range(w_grids):
            y1, x1 = hi * stride, wi * stride
            y2, x2 = min(y1 + crop, h_img), min(x1 + crop, w_img)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            logit = ref_encode_decode(model, img[:, :, y1:y2, x1:x2], text, with_bg, bg_thresh)
            preds += F.pad(logit, (x1, preds.shape[3] - x2, y1, preds.shape[2] - y2))
            count[:, :, y1:y2, x1:x2] += 1
    assert (count == 0).sum() == 0
    preds = preds / count
    preds = F.interpolate(preds, size=ori_shape, mode="bilinear", align_corners=False)
    return preds[0], F.softmax(preds, dim=1).argmax(dim=1)[0]


def ref_whole(model, img, text, with_bg, bg_thresh, ori_shape, gate="image"):
    logit = ref_encode_decode(model, img, text, with_bg, bg_thresh, gate)
    logit = F.interpolate(logit, size=ori_shape, mode="bilinear", align_corners=False)
    return logit[0], F.softmax(logit, dim=1).argmax(dim=1)[0]


def naive_bilinear_uint8(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """cv2.INTER_LINEAR geometry (half-pixel centres, edge clamp), float maths, round half up."""
    h, w, _ = img.shape
    out = np.zeros((out_h, out_w, 3), dtype=np.float64)
    sy, sx = h / out_h, w / out_w
    for y in range(out_h):
        fy = max((y + 0.5) * sy - 0.5, 0.0)
        y0 = min(int(np.floor(fy)), h - 1)
        y1 = min(y0 + 1, h - 1)
        ly = fy - y0
        for x in range(out_w):
            fx = max((x + 0.5) * sx - 0.5, 0.0)
            x0 = min(int(np.floor(fx)), w - 1)
            x1 = min(x0 + 1, w - 1)
            lx = fx - x0
            top = img[y0, x0] * (1 - lx) + img[y0, x1] * lx
            bot = img[y1, x0] * (1 - lx) + img[y1, x1] * lx
            out[y, x] = top * (1 - ly) + bot * ly
    return np.clip(np.floor(out + 0.5), 0, 255)


def naive_pamr(image, mask, num_iter, dilations):
    """PAMR via the original conv-kernel formulation (visinf/1-stage-wseg), written out."""
    image = F.interpolate(image, size=mask.shape[-2:], mode="bilinear", align_corners=True)

    def shift_kernel(centre_weight, include_centre):
        ks = []
        for i in range(3):
            for j in range(3):
                if (i, j) == (1, 1) and not include_centre:
                    continue
                k = torch.zeros(1, 1, 3, 3)
                k[0, 0, i, j] = 1
                if centre_weight:
                    k[0, 0, 1, 1] += centre_weight
                ks.append(k)
        return torch.cat(ks)

    def apply(x, kernel):
        b, c, h, w = x.shape
        x = x.reshape(b * c, 1, h, w)
        outs = [F.conv2d(F.pad(x, [d] * 4, mode="replicate"), kernel, dilation=d) for d in dilations]
        return torch.cat(outs, 1).reshape(b, c, -1, h, w)

    std = apply(image, shift_kernel(0, True)).std(2, keepdim=True)
    diff = apply(image, -shift_kernel(-1, False)).abs()  # centre - neighbour
    x = (-diff / (1e-8 + 0.1 * std)).mean(1, keepdim=True)
    x = F.softmax(x, 2)
    for _ in range(num_iter):
        mask = (apply(mask, shift_kernel(0, False)) * x).sum(2)
    return mask
