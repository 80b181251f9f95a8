from django.core.management.base import BaseCommand, CommandError

from tester_platform.audit.services import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Recompute the audit chain's HMAC links and compare it with every signed checkpoint; exit non-zero if "
        "any event was changed, removed or inserted, or the chain was rewritten after a checkpoint."
    )

    def add_arguments(self, parser):
        parser.add_argument("--checkpoints", help="checkpoint file (default: settings.AUDIT_CHECKPOINT_FILE)")

    def handle(self, *args, **options):
        report = audit_chain_verify(checkpoint_file=options["checkpoints"])
        if report.problems:
            for problem in report.problems:
                self.stderr.write(problem)
            raise CommandError(f"audit chain broken: {len(report.problems)} problem(s)")
        legacy = (
            f", {report.legacy} of them legacy (plain SHA-256, from before the chain was keyed; pinned by "
            "the first keyed event after them)"
            if report.legacy
            else ""
        )
        if report.checkpoints:
            anchored = f"; matches {report.checkpoints} checkpoint(s) in {report.checkpoint_file}"
        else:
            anchored = f"; no checkpoints in {report.checkpoint_file} to compare with"
        self.stdout.write(self.style.SUCCESS(f"audit chain intact ({report.events} events{legacy}){anchored}"))
