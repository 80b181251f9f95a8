from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from generation.conf import get_profile
from generation.tiny_model import build_tiny_wan


class Command(BaseCommand):
    help = "Write the tiny randomly initialised Wan 2.1 checkpoint (idempotent, fixed seed)."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="directory to write (default: the wan-tiny profile's directory)")
        parser.add_argument("--force", action="store_true", help="rebuild even if present")

    def handle(self, *args, output=None, force=False, **options):
        target = Path(output) if output else Path(get_profile("wan-tiny", check_dir=False).model_dir)
        written = build_tiny_wan(target.resolve(), force=force)
        self.stdout.write(f"{'built' if written else 'already present'}: {target.resolve()}")
