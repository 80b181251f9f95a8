"""The studio's modes through a real worker and the real pipelines on the tiny
checkpoints: image to video, storyboards and long videos (chained), loop and re-cut."""

import hashlib
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from generation import media
from generation.images import image_store
from generation.models import GenerationJob, UsageRecord
from generation.provenance import CONSENT_LABEL, INPUTS_LABEL, read_manifest
from generation.services import Shot
from tests.generation.conftest import make_tester, submit, wait_for_status

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def png(size=(160, 90)) -> bytes:
    rng = np.random.default_rng(5)
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[:, : size[0] // 2] = (230, 90, 20)  # two halves and some grain: a still with content
    pixels[:, size[0] // 2 :] = (20, 90, 230)
    pixels = np.clip(pixels.astype(int) + rng.integers(-20, 20, pixels.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def finished(job) -> GenerationJob:
    job = wait_for_status(job, {"succeeded", "failed", "cancelled"}, timeout=240)
    assert job.status == "succeeded", job.error_detail or job.error
    return job


def check(job: GenerationJob, *, frames: int, size: tuple[int, int]):
    data = _read(job.video.name)
    info = media.probe(data)
    assert (info["width"], info["height"], info["frames"], info["codec"]) == (*size, frames, "h264")
    assert job.num_frames == frames
    usage = UsageRecord.objects.get(job=job)  # metered: exactly one record
    assert 0 < usage.compute_seconds <= usage.wall_seconds and usage.frames == frames and usage.steps > 0
    report = read_manifest(data)  # signed
    assert report.trusted and report.assertion(CONSENT_LABEL)["consent_record_id"] == job.consent_record_id
    assert hashlib.sha256(data).hexdigest() == job.signed_sha256
    return data, usage, report


def test_image_to_video_from_an_uploaded_png_names_the_image_hash_in_the_manifest(gpu_worker):
    t = make_tester()
    image = image_store(
        artist=t.artist, program_id=t.program.pk, data=png(), filename="harbour.png", rights_attested=True
    )
    job = finished(
        submit(
            t,
            mode="image_to_video",
            prompt="the harbour wakes up",
            image=image,
            duration_seconds=2,
            aspect_ratio="16:9",
            resolution="preview",
        )
    )
    assert job.input_image_id == image.pk
    data, usage, report = check(job, frames=33, size=(112, 64))
    assert [i["description"] for i in report.ingredients] == [f"sha256:{image.sha256}"]
    assert report.ingredients[0]["relationship"] == "inputTo"
    assert report.assertion(INPUTS_LABEL)["ingredients"][0]["sha256"] == image.sha256
    assert usage.inputs == [
        {
            "kind": "image",
            "image": image.pk,
            "role": "start image of shot 1",
            "sha256": image.sha256,
            "width": 160,
            "height": 90,
            "bytes": image.bytes,
        }
    ]
    assert len(usage.shots) == 1 and usage.shots[0]["frames"] == 33
    # (With random weights Wan 2.1 I2V does not reproduce the still as its first frame: the
    # transformer denoises every latent frame. A real checkpoint does.)


def test_a_2_2_2_storyboard_is_one_6_second_mp4_with_one_usage_record_of_3_shot_lines(gpu_worker):
    t = make_tester()
    job = finished(
        submit(
            t,
            mode="storyboard",
            prompt="",
            aspect_ratio="1:1",
            resolution="preview",
            shots=[
                Shot("a fox wakes in the snow", 2),
                Shot("it runs across the field", 2),
                Shot("it jumps into the river", 2),
            ],
        )
    )
    assert job.mode == "storyboard" and [s["op"] for s in job.segments] == ["text", "extend", "extend"]
    _, usage, report = check(job, frames=97, size=(128, 128))  # 33 + 32 + 32: 6.0 s at 16 fps
    assert job.duration_seconds == pytest.approx(97 / 16)
    assert [line["shot"] for line in usage.shots] == [1, 2, 3]
    assert [line["frames"] for line in usage.shots] == [33, 32, 32]
    assert all(line["steps"] > 0 and line["compute_seconds"] > 0 for line in usage.shots)
    assert sum(line["steps"] for line in usage.shots) == usage.steps
    assert report.assertion(INPUTS_LABEL)["shots"] == 3
    assert UsageRecord.objects.filter(job__artist=t.artist).count() == 1
    assert [s["state"] for s in job.shot_progress()] == ["done", "done", "done"]


def test_a_storyboard_shot_with_a_start_image_cuts_to_it(gpu_worker):
    t = make_tester()
    image = image_store(artist=t.artist, program_id=t.program.pk, data=png(), filename="b.png", rights_attested=True)
    job = finished(submit(t, mode="storyboard", prompt="", shots=[Shot("sunrise", 1), Shot("the harbour", 1, image)]))
    assert [s["op"] for s in job.segments] == ["text", "image"] and job.segments[1]["cut"] is True
    _, usage, report = check(job, frames=17 + 16, size=(112, 64))
    assert report.ingredients[0]["metadata"]["org.atelier.role"] == "start image of shot 2"


def test_12_seconds_on_a_profile_whose_longest_clip_is_10_seconds_is_chained(gpu_worker):
    t = make_tester()
    job = finished(submit(t, duration_seconds=12, aspect_ratio="21:9", resolution="preview"))
    assert [(s["op"], s["frames"]) for s in job.segments] == [("text", 161), ("extend", 32)]  # one clip is ≤ 161
    _, usage, _ = check(job, frames=193, size=(112, 48))
    assert len(usage.shots) == 1 and usage.shots[0]["segments"] == 2 and usage.shots[0]["frames"] == 193


def test_loop_and_re_cut_are_decodable_metered_and_signed_with_the_source_as_ingredient(gpu_worker):
    t = make_tester()
    source = finished(submit(t, duration_seconds=2))
    loop = finished(submit(t, mode="loop", prompt="", source_job=source, preset="smooth"))
    assert loop.segments[0]["seam"] == 17 and loop.prompt == source.prompt
    loop_data, loop_usage, report = check(loop, frames=33, size=(112, 64))
    assert report.ingredients[0]["description"] == f"sha256:{source.signed_sha256}"
    assert report.ingredients[0]["active_manifest"]  # the source's own manifest travels with it
    assert loop_usage.inputs[0]["kind"] == "video" and loop_usage.inputs[0]["generation"] == source.pk
    assert loop_usage.steps == int(4 * 0.7)
    frames = media.decode_frames(loop_data).astype(int)
    src = media.decode_frames(_read(source.video.name)).astype(int)
    # the middle is the source's, untouched (after re-encoding); the ends were re-noised
    assert np.abs(frames[8:25] - src[9:26]).mean() < 6

    recut = finished(
        submit(
            t,
            mode="recut",
            prompt="now it rains",
            source_job=source,
            keep_from_seconds=0.5,
            keep_to_seconds=1.75,
            duration_seconds=1,
            preset="continue",
        )
    )
    kept = 4 * ((28 - 8 - 1) // 4) + 1  # frames 8..28 → 17 (4k+1)
    assert recut.segments[0] == {
        "op": "trim",
        "shot": 0,
        "prompt": "now it rains",
        "frames": kept,
        "start": 8,
        "seconds": kept / 16,
    }
    recut_data, recut_usage, report = check(recut, frames=kept + 16, size=(112, 64))
    assert report.ingredients[0]["description"] == f"sha256:{source.signed_sha256}"
    out = media.decode_frames(recut_data).astype(int)
    assert np.abs(out[:kept] - src[8 : 8 + kept]).mean() < 6  # the kept span, then the new part
