import json
from dataclasses import replace

import numpy as np
import pytest
from django.core.management import call_command

from generation import media, pipelines
from generation.conf import get_profile
from generation.tiny_model import build_tiny_wan, is_built


@pytest.fixture(scope="module")
def tiny_profile(tmp_path_factory):
    target = tmp_path_factory.mktemp("wan-tiny")
    assert build_tiny_wan(target) is True
    return replace(get_profile("wan-tiny", check_dir=False), model_dir=str(target))


def test_the_tiny_checkpoint_has_the_documented_architecture(tiny_profile):
    from pathlib import Path

    d = Path(tiny_profile.model_dir)
    index = json.loads((d / "model_index.json").read_text())
    assert index["_class_name"] == "WanPipeline"
    assert index["tokenizer"][1] == "ByT5Tokenizer" and index["text_encoder"][1] == "UMT5EncoderModel"
    t = json.loads((d / "transformer" / "config.json").read_text())
    assert (t["num_attention_heads"], t["attention_head_dim"], t["num_layers"], t["rope_max_seq_len"]) == (
        2,
        12,
        2,
        1024,
    )
    total = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    assert total < 1_000_000


def test_building_again_is_a_no_op(tiny_profile, capsys):
    assert build_tiny_wan(tiny_profile.model_dir) is False
    call_command("build_tiny_model", output=tiny_profile.model_dir)
    assert "already present" in capsys.readouterr().out
    assert is_built(tiny_profile.model_dir)


def _run(profile, seed, **kw):
    return pipelines.run(
        profile=profile,
        mode="text_to_video",
        prompt="a red kite",
        negative_prompt="",
        seed=seed,
        width=64,
        height=64,
        num_frames=9,
        steps=2,
        **kw,
    )


def test_same_seed_gives_identical_frames_and_another_seed_does_not(tiny_profile):
    a, b, c = _run(tiny_profile, 7), _run(tiny_profile, 7), _run(tiny_profile, 8)
    assert a.frames.shape == (9, 64, 64, 3) and a.frames.dtype == np.uint8
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)
    assert a.compute_seconds > 0 and a.steps_done == 2 and a.device_name == "cpu" and a.peak_memory_bytes > 0


def test_the_step_callback_reports_progress_and_can_cancel(tiny_profile):
    seen = []
    result = _run(tiny_profile, 1, on_step=lambda done, total: seen.append((done, total)) or done >= 1)
    assert result.cancelled and result.frames is None and result.steps_done == 1 and seen == [(1, 2)]


def test_variation_and_extension_run_offline_from_frames(tiny_profile):
    src = _run(tiny_profile, 3).frames
    var = pipelines.run(
        profile=tiny_profile,
        mode="variation",
        prompt="a blue kite",
        negative_prompt="",
        seed=1,
        width=64,
        height=64,
        num_frames=9,
        steps=4,
        strength=0.5,
        source_frames=src,
    )
    assert var.frames.shape == src.shape and var.steps_done == 2
    ext = pipelines.run(
        profile=tiny_profile,
        mode="extension",
        prompt="the kite flies on",
        negative_prompt="",
        seed=1,
        width=64,
        height=64,
        num_frames=9 + 16,
        steps=4,
        strength=0.7,
        source_frames=src,
        added_frames=16,
    )
    assert ext.frames.shape == (25, 64, 64, 3)
    assert np.array_equal(ext.frames[:9], src)  # the source is kept; the new frames continue it


def test_encoding_decodes_with_pyav_at_the_recorded_size_and_frames():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (17, 80, 128, 3), dtype=np.uint8)
    data = media.encode_mp4(frames, fps=16)
    info = media.probe(data)
    assert info == {"width": 128, "height": 80, "frames": 17, "codec": "h264", "fps": 16.0}
    assert media.decode_frames(data).shape == (17, 80, 128, 3)
    assert media.poster_jpeg(frames)[:3] == b"\xff\xd8\xff"


def test_a_broken_model_directory_raises_a_load_error(tmp_path):
    (tmp_path / "model_index.json").write_text("{ not json")
    profile = replace(get_profile("wan-tiny", check_dir=False), key="broken", model_dir=str(tmp_path))
    with pytest.raises(pipelines.ModelLoadError):
        pipelines.get_pipeline(profile, "text_to_video")


def test_every_mode_keeps_the_profiles_dtype(tiny_profile):
    """The variation / extension pipeline shares the text-to-video weights; loading it must
    not cast them (diffusers' from_pipe casts to float32 unless told the dtype), or a bf16
    profile silently runs in float32. Found on an H200: 8x slower steps, twice the memory."""
    import torch

    profile = replace(tiny_profile, key="tiny-bf16", dtype="bfloat16")
    try:
        text_to_video = pipelines.get_pipeline(profile, "text_to_video")
        variation = pipelines.get_pipeline(profile, "variation")
        for pipe in (text_to_video, variation):
            assert pipe.transformer.dtype == torch.bfloat16
            assert pipe.text_encoder.dtype == torch.bfloat16
        assert variation.transformer is text_to_video.transformer  # shared, not a second copy
    finally:
        pipelines.clear_cache()
