from django.core.management.base import BaseCommand, CommandError

from tester_platform.errors import DomainError
from tester_platform.labour.services import pay_floor_run, previous_week


class Command(BaseCommand):
    help = "Top up each artist's effective hourly rate to the program's floor for one closed ISO week (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--week", help="ISO week, e.g. 2026-W14 (default: last week)")
        parser.add_argument("--program", type=int, help="Only this program id")

    def handle(self, *args, week=None, program=None, **options):
        week = week or previous_week()
        try:
            assessments = pay_floor_run(week=week, program_id=program)
        except DomainError as error:
            raise CommandError(error.message) from None
        new = [a for a in assessments if getattr(a, "created", False)]
        topped = [a for a in new if a.topup_minor]
        self.stdout.write(
            f"Week {week}: {len(assessments)} assessed ({len(new)} new), "
            f"{len(topped)} topped up, {sum(a.topup_minor for a in topped)} minor units posted."
        )
