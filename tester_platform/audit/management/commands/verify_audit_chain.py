from django.core.management.base import BaseCommand, CommandError

from tester_platform.audit.models import AuditEvent
from tester_platform.audit.services import audit_chain_problems


class Command(BaseCommand):
    help = "Recompute the audit hash chain; exit non-zero if any event was changed, removed or inserted."

    def handle(self, *args, **options):
        problems = audit_chain_problems()
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"audit chain broken: {len(problems)} problem(s)")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact ({AuditEvent.objects.count()} events)"))
