import json

import pytest

from generation.conf import get_profile, profile_queues
from generation.errors import ModelProfileError


def test_a_hub_id_is_a_clear_configuration_error(settings):
    settings.GENERATION_MODEL_PROFILES = {"wan2.1-t2v-1.3b": {"model_dir": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"}}
    with pytest.raises(ModelProfileError) as err:
        get_profile("wan2.1-t2v-1.3b")
    assert "Hub ids are not allowed" in str(err.value)
    assert "Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in str(err.value)


def test_a_missing_directory_says_how_to_build_the_tiny_model(settings, tmp_path):
    settings.GENERATION_MODEL_PROFILES = {"wan-tiny": {"model_dir": str(tmp_path / "nope")}}
    with pytest.raises(ModelProfileError, match="build_tiny_model"):
        get_profile("wan-tiny")


def test_unknown_profile_and_unknown_option_are_refused(settings):
    with pytest.raises(ModelProfileError, match="Unknown model profile"):
        get_profile("sora-9000", check_dir=False)
    settings.GENERATION_MODEL_PROFILES = {"wan-tiny": {"colour": "blue"}}
    with pytest.raises(ModelProfileError, match="unknown option"):
        get_profile("wan-tiny", check_dir=False)


def test_profiles_come_from_settings_and_environment(settings, monkeypatch, tmp_path):
    settings.GENERATION_MODEL_PROFILES = {"wan-tiny": {"steps": 6}}
    monkeypatch.setenv(
        "GENERATION_MODEL_PROFILES_JSON",
        json.dumps({"mine": {"extends": "wan-tiny", "model_dir": str(tmp_path), "queue": "gpu.mine"}}),
    )
    tiny = get_profile("wan-tiny", check_dir=False)
    mine = get_profile("mine")
    assert tiny.steps == 6 and tiny.queue == "gpu.wan-tiny" and tiny.fps == 16
    assert mine.model_dir == str(tmp_path) and mine.steps == 6
    assert "gpu.mine" in profile_queues()
    assert mine.pipelines["variation"] == "diffusers.WanVideoToVideoPipeline"


def test_auto_device_is_cpu_here():
    assert get_profile("wan-tiny", check_dir=False).resolved_device() == "cpu"


def test_loading_pipelines_forces_the_hub_offline(monkeypatch):
    import os

    from generation import pipelines

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    pipelines.offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_the_beat_schedule_runs_the_reaper():
    from generation.schedule import BEAT_SCHEDULE, beat_schedule

    assert beat_schedule() == BEAT_SCHEDULE
    assert {e["task"] for e in BEAT_SCHEDULE.values()} == {
        "generation.reap_lost_workers",
        "generation.redispatch_queued",
    }
