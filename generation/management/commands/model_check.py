from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation.modelcheck import ModelCheckFailed, Report, check_profile


class Command(BaseCommand):
    help = (
        "Check a model profile offline: local directories (no hub ids), the components its pipelines need, "
        "its limits against the checkpoint, its dtype, and one tiny denoising step."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("profile", help="a key of GENERATION_MODEL_PROFILES, e.g. wan-tiny")
        parser.add_argument("--no-step", action="store_true", help="check files and limits only, load nothing")

    def handle(self, *args: Any, profile: str, no_step: bool = False, **options: Any) -> None:
        try:
            report = check_profile(profile, run_step=not no_step)
        except ModelCheckFailed as failed:
            self._print(failed.report)
            raise CommandError(f"model profile {profile!r} is not ready: " + " | ".join(failed.report.errors)) from None
        self._print(report)
        self.stdout.write(self.style.SUCCESS(f"model profile {profile!r} is ready"))

    def _print(self, report: Report) -> None:
        marks = {"ok": "✓", "fail": "✗", "info": "·"}
        for kind, text in report.lines:
            line = f"  {marks[kind]} {text}"
            self.stdout.write(self.style.ERROR(line) if kind == "fail" else line)
