"""Demo data for `make demo`. Idempotent: running it again changes nothing it already made."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from payments.models import RateCard
from tester_platform.accounts.models import User
from tester_platform.accounts.roles import ADMIN, ARTIST, FINANCE, MODERATOR, PROGRAM_MANAGER
from tester_platform.accounts.services import role_groups_sync, user_grant_role, user_sign_up
from tester_platform.consent.models import ConsentDocument
from tester_platform.consent.services import active_consent, consent_sign
from tester_platform.programs.models import Enrollment, Program, ProgramStaff
from tester_platform.programs.services import enrollment_start

CONSENT_V1 = """\
## What you agree to

You test an unreleased text-to-video model for Demo Early Access and tell us what you find.

- **You are paid** for accepted testing time, accepted feedback and approved shares, at the published rate card,
  with a guaranteed minimum hourly rate.
- **You own your outputs.** You may share them after a review that is decided within 48 hours, with a reason from
  a published list if refused. No decision in time means approved. Opinion and critique are never grounds to refuse.
- **Your data:** every generation records the consent it was made under. Training on your outputs and use in
  marketing are separate choices you can change.
- **Your access** is personal. Do not share your account or tokens; suspicious use suspends one token, not the program.
- You can withdraw at any time; what you earned is still paid.
"""

ACCOUNTS = [
    ("artist@demo.test", "Ada Artist", [ARTIST]),
    ("artist2@demo.test", "Ben Artist", [ARTIST]),
    ("moderator@demo.test", "Mo Moderator", [MODERATOR]),
    ("manager@demo.test", "Pam Manager", [PROGRAM_MANAGER]),
    ("finance@demo.test", "Fin Finance", [FINANCE]),
    ("admin@demo.test", "Ad Admin", [ADMIN]),
]


class Command(BaseCommand):
    help = "Create the demo program and accounts (password from DEMO_PASSWORD)."

    @transaction.atomic
    def handle(self, *args, **options):
        role_groups_sync()
        program, _ = Program.objects.get_or_create(
            slug="demo",
            defaults={
                "name": "Demo Early Access",
                "status": Program.Status.ACTIVE,
                "description": "Test **Wan tiny**, an unreleased text-to-video model, and get paid for it.",
                "model_profile": "wan-tiny",
                "max_resolution": Program.Resolution.P480,
                "max_duration_seconds": 10,
            },
        )
        if (program.max_resolution, program.max_duration_seconds) == (Program.Resolution.PREVIEW, 5):
            # A demo seeded before the tiny model rendered 480p still had the old caps.
            program.max_resolution, program.max_duration_seconds = Program.Resolution.P480, 10
            program.save(update_fields=["max_resolution", "max_duration_seconds"])
        document = ConsentDocument.objects.filter(program=program, version=1).first()
        if document is None:
            document = ConsentDocument.objects.create(
                program=program,
                version=1,
                title="Demo Early Access tester agreement",
                body=CONSENT_V1,
                published_at=timezone.now(),
            )
        RateCard.objects.get_or_create(
            program=program,
            version=1,
            defaults={
                "currency": "EUR",
                "hourly_rate_minor": 2500,
                "pay_floor_hourly_minor": 1200,
                "share_bonus_minor": 500,
                "bounty_low_minor": 300,
                "bounty_medium_minor": 1000,
                "bounty_high_minor": 2500,
                "bounty_critical_minor": 5000,
                "marketing_licence_minor": 2000,
                "published_at": timezone.now(),
                "notes": "Paid for accepted testing time and feedback, with a guaranteed hourly minimum.",
            },
        )
        users = {}
        for email, name, roles in ACCOUNTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = user_sign_up(
                    email=email, password=settings.DEMO_PASSWORD, display_name=name, email_verified=True
                )
            for role in roles:
                user_grant_role(user=user, role=role)
            users[email] = user
        admin = users["admin@demo.test"]
        if not admin.is_superuser:
            admin.is_staff = admin.is_superuser = True
            admin.save(update_fields=["is_staff", "is_superuser"])
        for email in ("moderator@demo.test", "manager@demo.test"):
            users[email].is_staff = True
            users[email].save(update_fields=["is_staff"])
        ProgramStaff.objects.get_or_create(
            program=program, user=users["moderator@demo.test"], role=ProgramStaff.Role.MODERATOR
        )
        ProgramStaff.objects.get_or_create(
            program=program, user=users["manager@demo.test"], role=ProgramStaff.Role.MANAGER
        )
        for email in ("artist@demo.test", "artist2@demo.test"):
            if not Enrollment.objects.filter(program=program, artist=users[email]).exists():
                enrollment_start(program=program, artist=users[email], actor=admin, via="seed")
        artist = users["artist@demo.test"]
        if active_consent(artist=artist, program=program) is None:
            consent_sign(
                artist=artist,
                program=program,
                document_version=document.version,
                participation=True,
                training_use=False,
                marketing_use=True,
                ip_address="127.0.0.1",
                user_agent="seed_demo",
            )
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at the address above with:"))
        for email, _name, roles in ACCOUNTS:
            self.stdout.write(f"  {email:<22} {', '.join(roles):<16} password: {settings.DEMO_PASSWORD}")
