"""Model loading under faults: every failure says what the file is, none is silently random."""

from __future__ import annotations

import logging

import pytest
import torch

from cocu.errors import CocuError
from cocu.models import create_model
from cocu.models.checkpoint import load_model, save_model


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("groupvit_tiny").eval()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ""])
def test_random_bytes_are_not_called_safetensors(tmp_path, suffix):
    path = tmp_path / f"weights{suffix}"
    path.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
                     .numpy().tobytes())
    with pytest.raises(CocuError) as exc:
        load_model(path)
    msg = str(exc.value)
    assert f"cannot read checkpoint {path}" in msg and "safetensors" not in msg and "\n" not in msg


def test_safetensors_without_the_suffix_is_still_recognised(tmp_path, tiny):
    path = save_model(tiny, tmp_path / "w.safetensors")
    renamed = path.rename(tmp_path / "w.weights")
    model = load_model(renamed)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), tiny.state_dict().values()))


@pytest.mark.parametrize("fmt", ["safetensors", "pt"])
def test_nan_weights_are_refused(tmp_path, tiny, fmt):
    sd = {k: v.clone() for k, v in tiny.state_dict().items()}
    key = "img_encoder.patch_embed.proj.weight"
    sd[key][0, 0, 0, :3] = float("nan")
    model = create_model("groupvit_tiny")
    model.load_state_dict(sd)
    if fmt == "safetensors":
        path = save_model(model, tmp_path / "nan.safetensors")
    else:
        path = tmp_path / "nan.pt"
        torch.save({"model": sd, "model_config": model.config.to_dict()}, path)
    with pytest.raises(CocuError, match=rf"3 NaN/inf values in 1 tensor\(s\) \(first: {key}\)"):
        load_model(path)


def test_model_entry_that_is_no_state_dict_says_so(tmp_path):
    path = tmp_path / "odd.pt"
    torch.save({"model": [1, 2, 3]}, path)
    with pytest.raises(CocuError) as exc:
        load_model(path)
    assert "its 'model' entry is a list, not a dict of tensors" in str(exc.value)
    assert "keys ['model']" not in str(exc.value)


def test_preset_name_as_checkpoint_warns_random_weights(caplog):
    with caplog.at_level(logging.WARNING):
        load_model("groupvit_tiny")
    assert "RANDOM weights" in caplog.text
