"""CPU seconds per second of video on the tiny model, per studio size: the pipeline
(denoising + VAE decode) plus the MP4 encode, warm, in one process. Prints a table.

    .venv/bin/python bench/studio_sizes.py [--sizes preview,480p] [--seconds 1,2] [--steps 4] [--repeat 2]

"CPU s" is process CPU time (all threads, so up to 2x wall on this 2-core machine);
"per video s" divides by the clip's duration (frames / fps). Self-contained: it builds
the tiny checkpoint into a temporary folder. Not run by tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="preview,480p")
    ap.add_argument("--seconds", default="1,2")
    ap.add_argument("--aspect", default="16:9")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="atelier-bench-sizes-"))
    os.environ.update(
        {
            "ATELIER_VAR_DIR": str(run_dir),
            "DJANGO_SETTINGS_MODULE": "tester_platform.settings",
            "HF_HUB_OFFLINE": "1",
            "DATABASE_URL": f"sqlite:///{run_dir / 'bench.sqlite3'}",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import torch

    from generation import media, pipelines
    from generation.conf import get_profile
    from generation.presets import frame_size, frames_for_duration
    from generation.tiny_model import build_tiny_wan

    build_tiny_wan(run_dir / "wan-tiny")
    profile = replace(get_profile("wan-tiny", check_dir=False), model_dir=str(run_dir / "wan-tiny"))
    print(
        f"tiny model, device {profile.resolved_device()}, torch threads {torch.get_num_threads()}, "
        f"{args.steps} steps, aspect {args.aspect}, best of {args.repeat}"
    )
    # warm up: load the pipeline and let the allocator settle
    pipelines.run(
        profile=profile,
        mode="text_to_video",
        prompt="warm",
        negative_prompt="",
        seed=0,
        width=64,
        height=64,
        num_frames=9,
        steps=1,
    )

    print(
        f"{'size':>8} {'w×h':>9} {'video s':>8} {'frames':>6} {'CPU s':>8} {'wall s':>8} "
        f"{'CPU s / video s':>16} {'wall s / video s':>17}"
    )
    for resolution in args.sizes.split(","):
        width, height = frame_size(args.aspect, resolution, profile=profile)
        for seconds in (float(s) for s in args.seconds.split(",")):
            frames = frames_for_duration(seconds, profile=profile)
            video_seconds = frames / profile.fps
            cpu, wall = [], []
            for i in range(args.repeat):
                c0, w0 = time.process_time(), time.perf_counter()
                result = pipelines.run(
                    profile=profile,
                    mode="text_to_video",
                    prompt="a lighthouse at dusk",
                    negative_prompt="",
                    seed=i,
                    width=width,
                    height=height,
                    num_frames=frames,
                    steps=args.steps,
                )
                media.encode_mp4(result.frames, fps=profile.fps)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            c, w = min(cpu), min(wall)
            print(
                f"{resolution:>8} {f'{width}×{height}':>9} {video_seconds:>8.2f} {frames:>6} {c:>8.2f} {w:>8.2f} "
                f"{c / video_seconds:>16.2f} {w / video_seconds:>17.2f}",
                flush=True,
            )
    print(f"peak RSS {pipelines._peak_rss_bytes() >> 20} MiB")


if __name__ == "__main__":
    main()
