"""`manage.py model_check PROFILE`: loads offline, checks components and limits, runs one
tiny step; clear errors for a hub id, a missing component and a wrong dtype."""

import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from generation.conf import get_profile


def run(profile, *args):
    from io import StringIO

    out = StringIO()
    call_command("model_check", profile, *args, stdout=out)
    return out.getvalue()


def test_the_tiny_profile_passes_and_runs_one_step_of_each_pipeline(tiny_model_dir):
    out = run("wan-tiny")
    assert "✓ text_to_video: WanPipeline checkpoint" in out
    assert "image_encoder, image_processor" in out  # Wan 2.1 I2V reads a CLIP embedding
    assert "✓ limits: 848×480 px, 161 frames per clip" in out and "✓ dtype float32 on cpu" in out
    assert "✓ text_to_video: loaded offline and ran one step" in out
    assert "✓ image_to_video: loaded offline and ran one step" in out
    assert "is ready" in out


def test_a_hub_id_is_refused_clearly(settings):
    settings.GENERATION_MODEL_PROFILES = {"wan2.1-t2v-1.3b": {"model_dir": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"}}
    with pytest.raises(CommandError) as err:
        run("wan2.1-t2v-1.3b")
    assert "Hub ids are not allowed" in str(err.value) and "Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in str(err.value)


def test_a_missing_component_is_named(settings, tiny_model_dir, tmp_path):
    broken = tmp_path / "no-vae"
    shutil.copytree(tiny_model_dir, broken)
    shutil.rmtree(broken / "vae")
    settings.GENERATION_MODEL_PROFILES = {
        "no-vae": {
            "extends": "wan-tiny",
            "model_dir": str(broken),
            "pipelines": {
                "text_to_video": "diffusers.WanPipeline",
                "variation": "diffusers.WanVideoToVideoPipeline",
                "extension": "diffusers.WanVideoToVideoPipeline",
            },
        }
    }
    with pytest.raises(CommandError) as err:
        run("no-vae", "--no-step")
    assert "missing component(s) vae" in str(err.value)


def test_a_text_to_video_checkpoint_named_as_image_to_video_is_refused(settings, tiny_model_dir):
    settings.GENERATION_MODEL_PROFILES = {"mixed": {"extends": "wan-tiny", "image_model_dir": str(tiny_model_dir)}}
    with pytest.raises(CommandError) as err:
        run("mixed", "--no-step")
    assert "a text-to-video checkpoint, not image-to-video" in str(err.value)


@pytest.mark.parametrize(
    "dtype,needle", [("fp16", "is not one of float32, bfloat16, float16"), ("float16", "float16 on a CPU")]
)
def test_a_wrong_dtype_is_refused_clearly(settings, tiny_model_dir, dtype, needle):
    settings.GENERATION_MODEL_PROFILES = {"wan-tiny": {"dtype": dtype, "device": "cpu"}}
    with pytest.raises(CommandError) as err:
        run("wan-tiny", "--no-step")
    assert needle in str(err.value)


def test_limits_beyond_the_rope_table_are_refused(settings, tiny_model_dir, tmp_path):
    small = tmp_path / "small-rope"
    shutil.copytree(tiny_model_dir, small)
    config = json.loads((small / "transformer" / "config.json").read_text())
    config["rope_max_seq_len"] = 32
    (small / "transformer" / "config.json").write_text(json.dumps(config))
    settings.GENERATION_MODEL_PROFILES = {"wan-tiny": {"model_dir": str(small)}}
    with pytest.raises(CommandError) as err:
        run("wan-tiny", "--no-step")
    assert "rope table (32) is shorter" in str(err.value) and "width 53" in str(err.value)
    assert get_profile("wan-tiny", check_dir=False).model_dir == str(small)
