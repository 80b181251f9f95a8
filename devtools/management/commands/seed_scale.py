"""Fill a database with a real program's worth of data, in bulk, for load benchmarks:

    python manage.py seed_scale --artists 10000 --jobs 1000000

Programs with consent documents and rate cards, artists with enrollments and signed
consent, generation jobs over the last 90 days with their usage records, share requests
in every state, and earnings ledger lines. Idempotent per --tag: it refuses to seed twice
into the same database with the same tag."""

from __future__ import annotations

import random
import time
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from generation.models import GenerationJob, UsageRecord
from payments.models import LedgerEntry, RateCard
from tester_platform.accounts.models import User
from tester_platform.accounts.roles import ARTIST, MODERATOR
from tester_platform.consent.models import ConsentDocument, ConsentRecord, body_sha256
from tester_platform.programs.models import Enrollment, Program, ProgramStaff
from tester_platform.sharing.models import ShareRequest

BATCH = 5000
DAYS = 90
SIZES = {"preview": (128, 80), "480p": (848, 480)}


class Command(BaseCommand):
    help = "Bulk-create realistic scale data (artists, jobs with usage, share requests, ledger lines)."

    def add_arguments(self, parser):
        parser.add_argument("--artists", type=int, default=10_000)
        parser.add_argument("--jobs", type=int, default=1_000_000)
        parser.add_argument("--programs", type=int, default=5)
        parser.add_argument("--tag", default="scale", help="prefix of the seeded programs and emails")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, artists: int, jobs: int, programs: int, tag: str, seed: int, **options):
        if artists < 1 or jobs < 0 or programs < 1:
            raise CommandError("--artists and --programs must be at least 1, --jobs at least 0")
        if Program.objects.filter(slug__startswith=f"{tag}-").exists():
            raise CommandError(f"programs tagged {tag!r} exist already; use another --tag")
        rng = random.Random(seed)
        started = time.monotonic()
        now = timezone.now()
        with transaction.atomic():
            progs, cards, docs = self._programs(tag, programs, now)
            users = self._artists(tag, artists)
            enrollments, consents = self._enrollments(users, progs, docs, now)
        self._say(f"{len(progs)} programs, {len(users)} artists enrolled and consenting", started)
        job_ids = self._jobs(jobs, enrollments, consents, rng, now)
        self._say(f"{jobs} jobs with usage records", started)
        shares = self._shares(job_ids, enrollments, rng, now)
        self._say(f"{shares} share requests", started)
        lines = self._ledger(enrollments, cards, rng, now)
        self._say(f"{lines} ledger lines", started)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self._say("done", started)

    def _say(self, what: str, started: float) -> None:
        self.stdout.write(f"[{time.monotonic() - started:7.1f} s] {what}")

    def _programs(self, tag, count, now):
        progs = Program.objects.bulk_create(
            [
                Program(
                    name=f"{tag.title()} Program {n}",
                    slug=f"{tag}-{n}",
                    status=Program.Status.ACTIVE,
                    description="Scale test program.",
                    daily_compute_seconds=3600,
                    max_concurrent_jobs=4,
                )
                for n in range(count)
            ]
        )
        body = "# Tester agreement\n\nScale test."
        docs = ConsentDocument.objects.bulk_create(
            [
                ConsentDocument(
                    program=p,
                    version=1,
                    title="Agreement",
                    body=body,
                    sha256=body_sha256(body),
                    published_at=now - timedelta(days=DAYS + 1),
                )
                for p in progs
            ]
        )
        cards = RateCard.objects.bulk_create(
            [
                RateCard(
                    program=p,
                    version=1,
                    currency="EUR",
                    hourly_rate_minor=2500,
                    pay_floor_hourly_minor=1200,
                    share_bonus_minor=500,
                    published_at=now - timedelta(days=DAYS + 1),
                )
                for p in progs
            ]
        )
        moderators = User.objects.bulk_create(
            [
                User(email=f"{tag}-moderator{n}@scale.test", display_name=f"Moderator {n}", password="!")
                for n in range(count)
            ]
        )
        Group.objects.get_or_create(name=MODERATOR)
        ProgramStaff.objects.bulk_create(
            [
                ProgramStaff(program=p, user=m, role=ProgramStaff.Role.MODERATOR)
                for p, m in zip(progs, moderators, strict=True)
            ]
        )
        group = Group.objects.get(name=MODERATOR)
        group.user_set.add(*moderators)
        return progs, {c.program_id: c for c in cards}, {d.program_id: d for d in docs}

    def _artists(self, tag, count):
        password = make_password("scale-artist-password")  # hashed once, shared: seeding is not a login test
        users = User.objects.bulk_create(
            [
                User(email=f"{tag}-artist{n}@scale.test", display_name=f"Artist {n}", password=password)
                for n in range(count)
            ],
            batch_size=BATCH,
        )
        group, _ = Group.objects.get_or_create(name=ARTIST)
        through = User.groups.through
        through.objects.bulk_create([through(user_id=u.pk, group_id=group.pk) for u in users], batch_size=BATCH)
        return users

    def _enrollments(self, users, progs, docs, now):
        enrollments = Enrollment.objects.bulk_create(
            [
                Enrollment(
                    program=progs[i % len(progs)],
                    artist=u,
                    status=Enrollment.Status.ACTIVE,
                    activated_at=now - timedelta(days=DAYS),
                )
                for i, u in enumerate(users)
            ],
            batch_size=BATCH,
        )
        consents = ConsentRecord.objects.bulk_create(
            [
                ConsentRecord(
                    artist_id=e.artist_id,
                    program_id=e.program_id,
                    document=docs[e.program_id],
                    participation=True,
                    training_use=i % 3 == 0,
                    marketing_use=i % 4 == 0,
                    signed_at=now - timedelta(days=DAYS),
                    ip_address="127.0.0.1",
                    user_agent="seed_scale",
                    document_sha256=docs[e.program_id].sha256,
                )
                for i, e in enumerate(enrollments)
            ],
            batch_size=BATCH,
        )
        return enrollments, consents

    def _jobs(self, count, enrollments, consents, rng, now) -> list[int]:
        if connection.vendor == "postgresql":
            return self._jobs_copy(count, enrollments, consents, rng, now)
        ids: list[int] = []
        statuses = ["succeeded"] * 90 + ["failed"] * 6 + ["cancelled"] * 4
        for start in range(0, count, BATCH):
            batch, usage = [], []
            for n in range(start, min(count, start + BATCH)):
                k = rng.randrange(len(enrollments))
                e, c = enrollments[k], consents[k]
                resolution = "preview" if n % 10 else "480p"
                width, height = SIZES[resolution]
                batch.append(
                    GenerationJob(
                        artist_id=e.artist_id,
                        program_id=e.program_id,
                        enrollment_id=e.pk,
                        consent_record_id=c.pk,
                        training_use=c.training_use,
                        mode="text_to_video",
                        prompt=f"scene {n}: a city at dusk",
                        seed=n,
                        width=width,
                        height=height,
                        num_frames=33,
                        fps=16,
                        steps=4,
                        duration_seconds=2.0625,
                        aspect_ratio="16:9",
                        resolution=resolution,
                        model_profile="wan-tiny",
                        status=rng.choice(statuses),
                        progress=100,
                    )
                )
            created = GenerationJob.objects.bulk_create(batch)
            for job in created:
                compute = round(rng.uniform(0.2, 3.0) * (8 if job.resolution == "480p" else 1), 3)
                usage.append(
                    UsageRecord(
                        job=job,
                        artist_id=job.artist_id,
                        program_id=job.program_id,
                        device_name="NVIDIA H100 80GB HBM3",
                        model_profile="wan-tiny",
                        compute_seconds=compute,
                        wall_seconds=round(compute * 1.1 + 0.05, 3),
                        queue_seconds=round(rng.uniform(0, 4), 3),
                        frames=33,
                        width=job.width,
                        height=job.height,
                        steps=4,
                        peak_memory_bytes=6_000_000_000,
                        cancelled=job.status == "cancelled",
                    )
                )
                ids.append(job.pk)
            UsageRecord.objects.bulk_create(usage)
        # Spread the history over the last 90 days (auto_now_add stamped them all "now").
        with connection.cursor() as cursor:
            for table in ("generation_generationjob", "generation_usagerecord"):
                column = "id" if table == "generation_generationjob" else "job_id"
                if connection.vendor == "postgresql":
                    cursor.execute(
                        f"UPDATE {table} SET created_at = %s - ({column} %% {DAYS}) * interval '1 day' "
                        f"- ({column} %% 1440) * interval '1 minute' WHERE {column} >= %s",
                        [now, ids[0] if ids else 0],
                    )
                else:
                    cursor.execute(
                        f"UPDATE {table} SET created_at = datetime(%s, '-' || ({column} %% {DAYS}) || "
                        f"' days', '-' || ({column} %% 1440) || ' minutes') WHERE {column} >= %s",
                        [now.strftime("%Y-%m-%d %H:%M:%S"), ids[0] if ids else 0],
                    )
        return ids

    def _jobs_copy(self, count, enrollments, consents, rng, now) -> list[int]:
        """PostgreSQL: COPY rows straight in (ids taken from the sequences), about ten times
        faster than bulk_create for a million jobs, with their real history dates."""
        statuses = ["succeeded"] * 90 + ["failed"] * 6 + ["cancelled"] * 4
        job_cols = [
            "id",
            "artist_id",
            "program_id",
            "enrollment_id",
            "consent_record_id",
            "training_use",
            "mode",
            "prompt",
            "negative_prompt",
            "seed",
            "width",
            "height",
            "num_frames",
            "added_frames",
            "fps",
            "steps",
            "duration_seconds",
            "aspect_ratio",
            "resolution",
            "model_profile",
            "status",
            "progress",
            "error",
            "error_detail",
            "cancel_requested",
            "created_at",
            "finished_at",
            "celery_task_id",
            "attempts",
            "video",
            "thumbnail",
            "output_sha256",
            "signed_sha256",
            "provenance_claims",
            "provenance",
            "manifest_validation_state",
            "reserved_seconds",
            "segments",
            "current_segment",
            "segment_progress",
        ]
        usage_cols = [
            "job_id",
            "artist_id",
            "program_id",
            "device_name",
            "model_profile",
            "compute_seconds",
            "wall_seconds",
            "queue_seconds",
            "frames",
            "width",
            "height",
            "steps",
            "peak_memory_bytes",
            "cancelled",
            "created_at",
            "shots",
            "inputs",
        ]
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('generation_generationjob', 'id'))")
            first = cursor.fetchone()[0]
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('generation_generationjob', 'id'), %s)", [first + count]
            )
            raw = cursor.cursor
            with raw.copy(f"COPY generation_generationjob ({', '.join(job_cols)}) FROM STDIN") as copy:
                usage_rows = []
                for n in range(count):
                    k = rng.randrange(len(enrollments))
                    e, c = enrollments[k], consents[k]
                    resolution = "preview" if n % 10 else "480p"
                    width, height = SIZES[resolution]
                    job_id = first + n
                    created = now - timedelta(days=job_id % DAYS, minutes=job_id % 1440)
                    status = rng.choice(statuses)
                    copy.write_row(
                        (
                            job_id,
                            e.artist_id,
                            e.program_id,
                            e.pk,
                            c.pk,
                            c.training_use,
                            "text_to_video",
                            f"scene {n}: a city at dusk",
                            "",
                            n,
                            width,
                            height,
                            33,
                            0,
                            16,
                            4,
                            2.0625,
                            "16:9",
                            resolution,
                            "wan-tiny",
                            status,
                            100,
                            "",
                            "",
                            False,
                            created,
                            created + timedelta(seconds=5),
                            "",
                            1,
                            "",
                            "",
                            "",
                            "",
                            "{}",
                            "{}",
                            "",
                            0.0,
                            "[]",
                            0,
                            0,
                        )
                    )
                    compute = round(rng.uniform(0.2, 3.0) * (8 if resolution == "480p" else 1), 3)
                    usage_rows.append(
                        (
                            job_id,
                            e.artist_id,
                            e.program_id,
                            "NVIDIA H100 80GB HBM3",
                            "wan-tiny",
                            compute,
                            round(compute * 1.1 + 0.05, 3),
                            round(rng.uniform(0, 4), 3),
                            33,
                            width,
                            height,
                            4,
                            6_000_000_000,
                            status == "cancelled",
                            created + timedelta(seconds=5),
                            "[]",
                            "[]",
                        )
                    )
            with raw.copy(f"COPY generation_usagerecord ({', '.join(usage_cols)}) FROM STDIN") as copy:
                for row in usage_rows:
                    copy.write_row(row)
        return list(range(first, first + count))

    def _shares(self, job_ids, enrollments, rng, now) -> int:
        chosen = job_ids[::50]
        jobs = GenerationJob.objects.filter(pk__in=chosen, status="succeeded").values_list(
            "pk", "artist_id", "program_id"
        )
        states = ["approved"] * 6 + ["rejected", "in_review", "in_review", "withdrawn"]
        rows = []
        for pk, artist_id, program_id in jobs.iterator(chunk_size=BATCH):
            status = rng.choice(states)
            submitted = now - timedelta(hours=rng.randrange(1, 24 * DAYS))
            rows.append(
                ShareRequest(
                    generation_id=pk,
                    artist_id=artist_id,
                    program_id=program_id,
                    caption=f"Share of {pk}",
                    destination=rng.choice(ShareRequest.Destination.values),
                    status=status,
                    submitted_at=submitted,
                    due_at=submitted + timedelta(hours=48),
                    current_step=2,
                    decided_at=submitted + timedelta(hours=rng.randrange(1, 48))
                    if status in ("approved", "rejected")
                    else None,
                    public_slug=f"s{pk}" if status == "approved" else None,
                )
            )
        ShareRequest.objects.bulk_create(rows, batch_size=BATCH)
        return len(rows)

    def _ledger(self, enrollments, cards, rng, now) -> int:
        rows = []
        for e in enrollments:
            card = cards[e.program_id]
            for week in range(12):
                minutes = rng.randrange(60, 600)
                rows.append(
                    LedgerEntry(
                        artist_id=e.artist_id,
                        program_id=e.program_id,
                        kind=LedgerEntry.Kind.TIME,
                        amount_minor=card.hourly_rate_minor * minutes // 60,
                        currency=card.currency,
                        source_type="seed.week",
                        source_id=f"{e.pk}-{week}",
                        source_label=f"Week {week} testing time",
                        rate_card=card,
                        rate_card_version=card.version,
                        rate_minor=card.hourly_rate_minor,
                        rate_basis=LedgerEntry.RateBasis.PER_HOUR,
                        quantity=minutes,
                        created_at=now - timedelta(days=7 * week),
                    )
                )
        LedgerEntry.objects.bulk_create(rows, batch_size=BATCH)
        return len(rows)
