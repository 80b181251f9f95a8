from dataclasses import replace

import pytest

from generation.conf import get_profile, profiles
from generation.errors import InvalidParameters
from generation.presets import (
    ASPECT_RATIOS,
    RESOLUTION_BOXES,
    RESOLUTIONS,
    clip_max_frames,
    extension_frames_for_duration,
    frame_size,
    frames_for_duration,
    largest_valid_frame_count,
)


@pytest.fixture
def tiny():
    return get_profile("wan-tiny", check_dir=False)


@pytest.fixture
def unlimited(tiny):
    return replace(tiny, key="big", max_width=4096, max_height=4096, max_frames=1000)


@pytest.mark.parametrize("ratio", list(ASPECT_RATIOS))
def test_preview_is_at_most_128px_on_the_long_side_for_the_tiny_model(tiny, ratio):
    w, h = frame_size(ratio, "preview", profile=tiny)
    assert 96 <= max(w, h) <= 128
    assert w % 16 == 0 and h % 16 == 0
    a, b = ASPECT_RATIOS[ratio]
    assert (w >= h) == (a >= b)


@pytest.mark.parametrize("resolution", [r for r in RESOLUTIONS if r != "preview"])
@pytest.mark.parametrize("ratio", list(ASPECT_RATIOS))
def test_every_preset_is_a_valid_wan_size_close_to_its_ratio(unlimited, ratio, resolution):
    w, h = frame_size(ratio, resolution, profile=unlimited)
    assert w % 16 == 0 and h % 16 == 0
    a, b = ASPECT_RATIOS[ratio]
    assert abs((w / h) / (a / b) - 1) <= 0.02
    short = {"480p": 480, "720p": 720, "1080p": 1080}[resolution]
    assert min(w, h) <= short and max(w, h) <= {"480p": 848, "720p": 1280, "1080p": 1920}[resolution]


SHIPPED = sorted(profiles())


@pytest.mark.parametrize("profile_key", SHIPPED)
@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("ratio", list(ASPECT_RATIOS))
def test_table_every_ratio_resolution_and_shipped_profile_is_within_2_percent(profile_key, resolution, ratio):
    """The whole table: each cell is either a size the model accepts within 2 % of the
    asked ratio and as large as any other such size, or a refusal because the profile
    cannot make that resolution at all."""
    profile = get_profile(profile_key, check_dir=False)
    a, b = ASPECT_RATIOS[ratio]
    if resolution == "preview":
        box = (profile.preview_long_side, profile.preview_long_side)
    else:
        box = RESOLUTION_BOXES[resolution]
    if box[1] > profile.max_height:
        with pytest.raises(InvalidParameters) as err:
            frame_size(ratio, resolution, profile=profile)
        assert err.value.field == "resolution" and f"{profile.max_width}×{profile.max_height}" in err.value.message
        return
    w, h = frame_size(ratio, resolution, profile=profile)
    m = profile.size_multiple
    assert w % m == 0 and h % m == 0
    assert abs((w / h) / (a / b) - 1) <= 0.02, (w, h)
    long_limit, short_limit = min(box[0], profile.max_width), min(box[1], profile.max_height)
    assert max(w, h) <= long_limit and min(w, h) <= short_limit
    # no larger accepted size within 2 % exists (brute force over the box)
    target = max(a, b) / min(a, b)
    better = [
        (L, S)
        for S in range(m, short_limit + 1, m)
        for L in range(S, long_limit + 1, m)
        if w * h < L * S and abs((L / S) / target - 1) <= 0.02
    ]
    assert not better, better[:3]
    assert (w >= h) == (a >= b)


def test_16_9_preview_is_no_longer_1_6(tiny):
    w, h = frame_size("16:9", "preview", profile=tiny)
    assert (w, h) == (112, 64) and abs(w / h - 16 / 9) / (16 / 9) < 0.02
    assert frame_size("21:9", "preview", profile=tiny) == (112, 48)  # was 128×48 (2.67)


def test_common_presets_have_the_usual_sizes(unlimited):
    assert frame_size("16:9", "480p", profile=unlimited) == (848, 480)
    assert frame_size("9:16", "720p", profile=unlimited) == (720, 1280)
    assert frame_size("1:1", "480p", profile=unlimited) == (480, 480)


def test_the_tiny_profile_renders_480p_at_848x480(tiny):
    assert frame_size("16:9", "480p", profile=tiny) == (848, 480)
    assert frame_size("9:16", "480p", profile=tiny) == (480, 848)


@pytest.mark.parametrize("resolution", ["720p", "1080p"])
def test_the_tiny_profile_refuses_sizes_above_its_limit_with_a_clear_message(tiny, resolution):
    with pytest.raises(InvalidParameters) as err:
        frame_size("16:9", resolution, profile=tiny)
    assert err.value.field == "resolution"
    assert "at most 848×480" in err.value.message and resolution in err.value.message


@pytest.mark.parametrize("ratio,field", [("5:4", "aspect_ratio"), ("", "aspect_ratio"), (None, "aspect_ratio")])
def test_unknown_aspect_ratio_is_refused(tiny, ratio, field):
    with pytest.raises(InvalidParameters) as err:
        frame_size(ratio, "preview", profile=tiny)
    assert err.value.field == field and "16:9" in err.value.message


def test_unknown_resolution_is_refused(tiny):
    with pytest.raises(InvalidParameters) as err:
        frame_size("16:9", "4k", profile=tiny)
    assert err.value.field == "resolution"


def test_durations_map_to_4k_plus_1_frames(unlimited):
    frames = [frames_for_duration(d, profile=unlimited) for d in range(1, 11)]
    assert frames == [17, 33, 49, 65, 81, 97, 113, 129, 145, 161]
    assert all((f - 1) % 4 == 0 for f in frames)


@pytest.mark.parametrize("seconds", [0, 21, -1, 0.5, "abc", None])
def test_out_of_range_durations_are_refused(tiny, seconds):
    with pytest.raises(InvalidParameters) as err:
        frames_for_duration(seconds, profile=tiny)
    assert err.value.field == "duration_seconds"


def test_the_tiny_profile_makes_10_seconds_in_one_clip_and_longer_videos_up_to_its_longest(tiny):
    assert frames_for_duration(10, profile=tiny) == 161 == clip_max_frames(tiny)
    assert frames_for_duration(20, profile=tiny) == 321  # chained from clips
    with pytest.raises(InvalidParameters) as err:
        frames_for_duration(8, profile=replace(tiny, max_total_seconds=7))
    assert err.value.field == "duration_seconds" and "between 1 and 7 seconds" in err.value.message


def test_extension_adds_multiples_of_4_so_overlap_plus_new_is_a_valid_clip(tiny):
    added = extension_frames_for_duration(1, profile=tiny)
    assert added == 16 and (added + tiny.extension_overlap_frames - 1) % 4 == 0


def test_largest_valid_frame_count():
    assert largest_valid_frame_count(33) == 33
    assert largest_valid_frame_count(50) == 49
    with pytest.raises(InvalidParameters):
        largest_valid_frame_count(3)
