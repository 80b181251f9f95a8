from __future__ import annotations

import factory
from django.utils import timezone

from tester_platform.accounts.models import User
from tester_platform.accounts.roles import ARTIST
from tester_platform.accounts.services import user_grant_role
from tester_platform.consent.models import ConsentDocument
from tester_platform.consent.services import consent_sign
from tester_platform.programs.models import Enrollment, Program, ProgramStaff

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    display_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        self.save()
        for role in extracted or ():
            user_grant_role(user=self, role=role)


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    name = factory.Sequence(lambda n: f"Program {n}")
    slug = factory.Sequence(lambda n: f"program-{n}")
    status = Program.Status.ACTIVE
    description = "Test an unreleased video model."


class ConsentDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentDocument

    program = factory.SubFactory(ProgramFactory)
    version = 1
    title = factory.LazyAttribute(lambda o: f"Consent v{o.version}")
    body = factory.LazyAttribute(lambda o: f"# Consent v{o.version}\n\nI agree to test the model.")
    published_at = factory.LazyFunction(timezone.now)


def make_artist(**kwargs) -> User:
    return UserFactory(roles=[ARTIST], **kwargs)


def enroll(artist: User, program: Program, *, status: str = Enrollment.Status.ACTIVE) -> Enrollment:
    return Enrollment.objects.create(artist=artist, program=program, status=status)


def sign(artist: User, program: Program, *, training_use: bool = False, marketing_use: bool = False):
    document = ConsentDocument.objects.filter(program=program, published_at__isnull=False).order_by("-version").first()
    return consent_sign(
        artist=artist,
        program=program,
        document_version=document.version,
        participation=True,
        training_use=training_use,
        marketing_use=marketing_use,
        ip_address="127.0.0.1",
        user_agent="tests",
    )


def add_staff(user: User, program: Program, role: str) -> ProgramStaff:
    return ProgramStaff.objects.create(user=user, program=program, role=role)


def make_output(artist: User, program: Program, *, frames: int = 9, width: int = 64, height: int = 48):
    """A finished generation with a real (small) H.264 MP4 and poster, without running a
    pipeline: for tests of what happens to outputs after they exist."""
    import numpy as np
    from django.core.files.base import ContentFile

    from generation.media import encode_mp4, poster_jpeg
    from generation.models import GenerationJob
    from tester_platform.consent.services import active_consent

    consent = active_consent(artist=artist, program=program)
    rng = np.random.default_rng(artist.pk)
    video = rng.integers(0, 255, size=(frames, height, width, 3), dtype=np.uint8)
    job = GenerationJob.objects.create(
        artist=artist,
        program=program,
        enrollment=artist.enrollments.get(program=program),
        consent_record=consent,
        training_use=consent.training_use,
        mode="text_to_video",
        prompt="a test output",
        seed=1,
        width=width,
        height=height,
        num_frames=frames,
        fps=16,
        steps=4,
        duration_seconds=frames / 16,
        aspect_ratio="4:3",
        resolution="preview",
        model_profile="wan-tiny",
        status="succeeded",
        progress=100,
        manifest_validation_state="Trusted",
    )
    job.video.save(f"job-{job.pk}.mp4", ContentFile(encode_mp4(video, fps=16)), save=False)
    job.thumbnail.save(f"job-{job.pk}.jpg", ContentFile(poster_jpeg(video)), save=False)
    job.save(update_fields=["video", "thumbnail"])
    return job
