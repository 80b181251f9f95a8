"""A job's plan: the ordered pipeline calls its worker runs to make one MP4.

Every job is a list of segments. A short text-to-video is one; a video longer than one
clip, a storyboard, a loop or a re-cut are several, each continuing (or cutting from)
the video made so far:

- ``text``   a clip from the prompt (``frames``, 4k+1)
- ``image``  a clip from a still (``image`` = InputImage id) as its first frame; after
             the first shot it is a hard cut and adds ``frames - 1`` frames (so the whole
             stays 4k+1 long)
- ``extend`` ``frames`` (a multiple of 4) appended by the v2v-tail extension, with its
             own prompt: how long videos and the next storyboard shot continue
- ``vary``   the source video re-noised (``frames`` of it) at ``strength``
- ``loop``   the source with its end-to-start seam (``seam`` frames) re-noised
- ``trim``   keep ``frames`` of the source from frame ``start`` (no pipeline call)

Segments carry ``shot`` (the storyboard shot they belong to) for progress and usage,
and ``seconds`` (what the artist asked for) for display. Pure functions of their inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from generation import presets

if TYPE_CHECKING:  # pragma: no cover
    from generation.conf import ModelProfile
    from generation.models import GenerationJob

PIPELINE_OF = {
    "text": "text_to_video",
    "image": "image_to_video",
    "extend": "extension",
    "vary": "variation",
    "loop": "variation",
}


def extend_chunks(
    *, prompt: str, added: int, profile: ModelProfile, shot: int, strength: float, seconds: float
) -> list[dict[str, Any]]:
    """Append ``added`` frames in as few extensions as one clip allows (overlap + new ≤ a clip)."""
    step = 4 * ((presets.clip_max_frames(profile) - profile.extension_overlap_frames) // 4)
    if step < 4:
        raise ValueError(f"profile {profile.key!r}: a clip of {profile.max_frames} frames leaves no room to extend")
    chunks, left = [], added
    while left > 0:
        n = min(left, step)
        chunks.append(
            {
                "op": "extend",
                "shot": shot,
                "prompt": prompt,
                "frames": n,
                "strength": strength,
                "seconds": round(seconds * n / added, 4),
            }
        )
        left -= n
    return chunks


def clip_chain(
    *,
    op: str,
    prompt: str,
    frames: int,
    profile: ModelProfile,
    shot: int,
    seconds: float,
    image: int | None = None,
    cut: bool = False,
) -> list[dict[str, Any]]:
    """A clip of ``frames`` (4k+1) from text or an image; above one clip, the first clip
    is as long as the model makes and the rest is chained by extension."""
    first = min(frames, presets.clip_max_frames(profile))
    head = {"op": op, "shot": shot, "prompt": prompt, "frames": first, "seconds": round(seconds * first / frames, 4)}
    if image is not None:
        head["image"] = image
    if cut:
        head["cut"] = True
    rest = frames - first
    tail = (
        extend_chunks(
            prompt=prompt,
            added=rest,
            profile=profile,
            shot=shot,
            strength=profile.chain_strength,
            seconds=seconds * rest / frames,
        )
        if rest
        else []
    )
    return [head, *tail]


def result_frames(segments: list[dict[str, Any]], *, source_frames: int = 0) -> int:
    """How many frames the plan's video has at the end."""
    total = source_frames
    for seg in segments:
        op = seg["op"]
        if op in ("text", "image"):
            total = total + seg["frames"] - 1 if (seg.get("cut") and total) else seg["frames"]
        elif op == "extend":
            total += seg["frames"]
        elif op in ("vary", "trim"):
            total = seg["frames"]
        elif op == "loop":
            pass
        else:
            raise ValueError(f"unknown segment op {op!r}")
    return total


def steps_of(seg: dict[str, Any], steps: int) -> int:
    strength = seg.get("strength")
    return steps if strength is None or seg["op"] in ("text", "image") else max(1, int(steps * float(strength)))


def generated_frames(seg: dict[str, Any], profile: ModelProfile) -> int:
    """Frames the pipeline call denoises (what it costs), not what it adds."""
    op = seg["op"]
    if op == "extend":
        return int(seg["frames"]) + profile.extension_overlap_frames
    if op == "loop":
        return int(seg["seam"])
    if op == "trim":
        return 0
    return int(seg["frames"])


def weights(segments: list[dict[str, Any]], *, profile: ModelProfile, steps: int) -> list[float]:
    """Relative work of each segment, for overall progress."""
    return [generated_frames(s, profile) * steps_of(s, steps) for s in segments]


def image_ids(segments: list[dict[str, Any]]) -> list[int]:
    seen: list[int] = []
    for seg in segments:
        image = seg.get("image")
        if image is not None and image not in seen:
            seen.append(int(image))
    return seen


def shot_count(segments: list[dict[str, Any]]) -> int:
    return len({int(s.get("shot", 0)) for s in segments}) or 1


def batch_key(job: dict[str, Any]) -> tuple[str, str, int, int, int, int] | None:
    """Jobs with equal keys can share their first pipeline call (a batch): same profile,
    mode, size, frames and steps, and that call a text clip (no image, no source video).
    None: the job runs alone. ``job`` has the job's fields (a values() row)."""
    segments = job.get("segments") or (
        [{"op": "text", "frames": job["num_frames"]}] if job["mode"] == "text_to_video" else []
    )
    if not segments or segments[0].get("op") != "text":
        return None
    return (
        job["model_profile"],
        job["mode"],
        int(job["width"]),
        int(job["height"]),
        int(segments[0]["frames"]),
        int(job["steps"]),
    )


def legacy_segments(job: GenerationJob) -> list[dict[str, Any]]:
    """The plan of a job queued before plans existed (one call, from its own fields)."""
    if job.mode == "variation":
        return [
            {
                "op": "vary",
                "shot": 0,
                "prompt": job.prompt,
                "frames": job.num_frames,
                "strength": job.strength,
                "seconds": job.duration_seconds,
            }
        ]
    if job.mode == "extension":
        return [
            {
                "op": "extend",
                "shot": 0,
                "prompt": job.prompt,
                "frames": job.added_frames,
                "strength": job.strength,
                "seconds": job.added_frames / job.fps,
            }
        ]
    return [{"op": "text", "shot": 0, "prompt": job.prompt, "frames": job.num_frames, "seconds": job.duration_seconds}]
