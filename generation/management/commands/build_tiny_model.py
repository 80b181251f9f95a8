from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from generation.conf import get_profile
from generation.tiny_model import build_tiny_wan, build_tiny_wan_i2v


class Command(BaseCommand):
    help = (
        "Write the tiny randomly initialised Wan 2.1 checkpoints, text-to-video and image-to-video "
        "(idempotent, fixed seed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", help="directory to write (default: the wan-tiny profile's directory)")
        parser.add_argument(
            "--image-output",
            help="directory for the image-to-video checkpoint (default: the wan-tiny profile's image_model_dir)",
        )
        parser.add_argument("--force", action="store_true", help="rebuild even if present")

    def handle(
        self,
        *args: Any,
        output: str | None = None,
        image_output: str | None = None,
        force: bool = False,
        **options: Any,
    ) -> None:
        profile = get_profile("wan-tiny", check_dir=False)
        target = Path(output) if output else Path(profile.model_dir)
        written = build_tiny_wan(target.resolve(), force=force)
        self.stdout.write(f"{'built' if written else 'already present'}: {target.resolve()}")
        if image_output or not output:
            image_target = Path(image_output or profile.image_model_dir)
            written = build_tiny_wan_i2v(image_target.resolve(), force=force)
            self.stdout.write(f"{'built' if written else 'already present'} (image-to-video): {image_target.resolve()}")
