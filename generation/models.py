"""Engine tables: jobs, their one immutable usage record, GPU workers, and the per
artist-per-program row that submissions lock to reserve budget.

Platform models are named only by lazy strings (docs/design.md "Dependency direction")."""

from __future__ import annotations

from typing import Any, NoReturn, TypedDict

from django.conf import settings
from django.db import models
from django.db.models import Q

from generation.errors import GenerationError


class ImmutableUsageRecord(GenerationError):
    http_status = 409
    code = "immutable_usage_record"


def _output_path(instance: GenerationJob, filename: str) -> str:
    return f"generations/{instance.program_id}/{instance.artist_id}/{instance.pk}/{filename}"


class Worker(models.Model):
    class Status(models.TextChoices):
        ONLINE = "online", "Online"
        # Alive, but its media storage is not writable: it claims no jobs until it is.
        DEGRADED = "degraded", "Degraded (media not writable)"
        LOST = "lost", "Lost (missed heartbeats)"
        OFFLINE = "offline", "Offline"

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list, blank=True)
    device = models.CharField(max_length=16, default="cpu")  # "cpu" | "cuda"
    device_name = models.CharField(max_length=255, blank=True)
    memory_bytes = models.BigIntegerField(default=0)
    torch_version = models.CharField(max_length=64, blank=True)
    cuda_version = models.CharField(max_length=64, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ONLINE, db_index=True)
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    jobs_done = models.PositiveIntegerField(default=0)
    jobs_failed = models.PositiveIntegerField(default=0)
    # Warm-up at start (issue 18): seconds spent compiling the transformer for its shape
    # buckets (None: not compiled, e.g. no CUDA), and what the warm-up did, in words.
    compile_seconds = models.FloatField(null=True, blank=True)
    warmup_note = models.CharField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname} ({self.status})"


class BudgetAccount(models.Model):
    """The row a submission locks (select_for_update) so that concurrent submissions of
    one artist in one program are serialised and cannot overspend the budget."""

    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_reserved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["artist", "program"], name="generation_unique_budget_account")]

    def __str__(self) -> str:
        return f"budget of artist {self.artist_id} in program {self.program_id}"


def _input_path(instance: InputImage, filename: str) -> str:
    return f"generations/{instance.program_id}/{instance.artist_id}/inputs/{filename}"


class InputImage(models.Model):
    """A still an artist starts a video from: private like outputs, re-encoded (no EXIF),
    its hash named in the manifest of every video made from it."""

    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="input_images")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="input_images")
    file = models.FileField(upload_to=_input_path, max_length=300)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the stored (re-encoded) PNG.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveIntegerField()
    source_format = models.CharField(max_length=8, help_text="What the upload decoded as: PNG, JPEG or WEBP.")
    rights_attested = models.BooleanField(help_text="The artist attested they hold the rights to use it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(rights_attested=True), name="generation_input_rights")]

    def __str__(self) -> str:
        return f"image {self.pk} ({self.width}×{self.height}, {self.sha256[:12]})"


class _ShotSpan(TypedDict):
    """A storyboard shot's run of segments (GenerationJob.shot_progress)."""

    index: int
    first: int
    last: int
    prompt: str
    seconds: float


class ShotProgress(TypedDict):
    """One storyboard shot's line on the job's progress page."""

    number: int
    prompt: str
    state: str
    percent: int
    seconds: float


class GenerationJob(models.Model):
    class Mode(models.TextChoices):
        TEXT_TO_VIDEO = "text_to_video", "Text to video"
        IMAGE_TO_VIDEO = "image_to_video", "Image to video"
        STORYBOARD = "storyboard", "Storyboard"
        VARIATION = "variation", "Variation"
        EXTENSION = "extension", "Extension"
        LOOP = "loop", "Loop"
        RECUT = "recut", "Re-cut"

    # Modes that make a video from nothing but text (and images); the others need a source video.
    ORIGINAL_MODES = ("text_to_video", "image_to_video", "storyboard")

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    PROMPT_MAX_LENGTH = 2000

    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generation_jobs")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="generation_jobs")
    enrollment = models.ForeignKey("programs.Enrollment", on_delete=models.PROTECT, related_name="generation_jobs")
    consent_record = models.ForeignKey(
        "consent.ConsentRecord", on_delete=models.PROTECT, related_name="generation_jobs"
    )
    training_use = models.BooleanField(help_text="The artist's training-use choice when the job was submitted.")

    mode = models.CharField(max_length=16, choices=Mode.choices)
    prompt = models.CharField(max_length=PROMPT_MAX_LENGTH)
    negative_prompt = models.CharField(max_length=PROMPT_MAX_LENGTH, blank=True)
    seed = models.BigIntegerField()
    source_job = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="derived_jobs")
    strength = models.FloatField(null=True, blank=True)
    input_image = models.ForeignKey(
        InputImage,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="jobs",
        help_text="The still the first shot starts from.",
    )
    # The plan the worker runs, in order: one entry per pipeline call (or trim); a long
    # video or a storyboard is several, chained by extension, made into one MP4.
    segments = models.JSONField(default=list, blank=True)
    current_segment = models.PositiveSmallIntegerField(default=0)
    segment_progress = models.PositiveSmallIntegerField(default=0, help_text="0-100 within the current segment.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    num_frames = models.PositiveIntegerField(help_text="Frames in the output video.")
    added_frames = models.PositiveIntegerField(default=0, help_text="Extension: frames appended to the source.")
    fps = models.PositiveIntegerField()
    steps = models.PositiveIntegerField()
    duration_seconds = models.FloatField()
    aspect_ratio = models.CharField(max_length=8)
    resolution = models.CharField(max_length=8)
    model_profile = models.CharField(max_length=64)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Shown to the artist.")
    error_detail = models.TextField(blank=True, help_text="Technical cause, for staff.")
    cancel_requested = models.BooleanField(default=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.ForeignKey(Worker, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    # Liveness of a running job, whatever its worker row says: set at claim, on each
    # progress tick and by the worker's heartbeat thread; the reaper ends jobs not seen.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # When its message last reached the broker; None while a publish has failed (or a
    # delivery was handed back), which the dispatch sweep repairs.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    video = models.FileField(upload_to=_output_path, blank=True, max_length=300)
    thumbnail = models.FileField(upload_to=_output_path, blank=True, max_length=300)
    output_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the MP4 before signing.")
    signed_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the stored, signed MP4.")
    provenance_claims = models.JSONField(default=dict, blank=True)
    provenance = models.JSONField(default=dict, blank=True, help_text="The active C2PA manifest as read back.")
    manifest_validation_state = models.CharField(max_length=16, blank=True)

    reserved_seconds = models.FloatField(default=0, help_text="Compute seconds reserved while queued or running.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["artist", "program", "created_at"], name="generation_job_budget_idx"),
            models.Index(fields=["status", "worker"], name="generation_job_worker_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="generation_job_progress_0_100"),
            models.CheckConstraint(
                condition=Q(mode__in=["text_to_video", "image_to_video", "storyboard"]) | Q(source_job__isnull=False),
                name="generation_job_source_for_derived_modes",
            ),
            models.CheckConstraint(
                condition=Q(strength__isnull=True) | (Q(strength__gt=0) & Q(strength__lte=1)),
                name="generation_job_strength_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.mode} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def shot_progress(self) -> list[ShotProgress]:
        """Per storyboard shot (a long video is one shot of several segments): its prompt,
        and done / running with its percent / waiting, from the segment being worked on."""
        shots: dict[int, _ShotSpan] = {}
        for index, seg in enumerate(self.segments or []):
            shot = shots.setdefault(
                int(seg.get("shot", 0)),
                {
                    "index": int(seg.get("shot", 0)),
                    "first": index,
                    "last": index,
                    "prompt": seg.get("prompt", ""),
                    "seconds": 0.0,
                },
            )
            shot["last"] = index
            shot["seconds"] += float(seg.get("seconds", 0.0))
        rows: list[ShotProgress] = []
        finished = self.status == self.Status.SUCCEEDED
        for shot in sorted(shots.values(), key=lambda s: s["index"]):
            count = shot["last"] - shot["first"] + 1
            if finished or (self.status == self.Status.RUNNING and self.current_segment > shot["last"]):
                state, percent = "done", 100
            elif self.status == self.Status.RUNNING and shot["first"] <= self.current_segment <= shot["last"]:
                done = self.current_segment - shot["first"]
                state, percent = "running", int((100 * done + self.segment_progress) / count)
            else:
                state, percent = "waiting", 0
            rows.append(
                {
                    "number": shot["index"] + 1,
                    "prompt": shot["prompt"],
                    "state": state,
                    "percent": percent,
                    "seconds": round(shot["seconds"], 2),
                }
            )
        return rows


class UsageRecordQuerySet(models.QuerySet["UsageRecord"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableUsageRecord("Usage records are append-only.")

    def delete(self) -> NoReturn:
        raise ImmutableUsageRecord("Usage records are append-only.")


class UsageRecord(models.Model):
    """What one job consumed. Written once, by the service that finishes the job."""

    job = models.OneToOneField(GenerationJob, on_delete=models.PROTECT, related_name="usage")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, null=True, blank=True, related_name="usage_records")
    device_name = models.CharField(max_length=255)
    model_profile = models.CharField(max_length=64)
    compute_seconds = models.FloatField()
    wall_seconds = models.FloatField()
    queue_seconds = models.FloatField()
    frames = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    steps = models.PositiveIntegerField(help_text="Denoising steps actually run.")
    peak_memory_bytes = models.BigIntegerField()
    cancelled = models.BooleanField(default=False)
    # One line per storyboard shot (a plain video is one shot): frames it added, steps run,
    # compute and wall seconds, segments it took.
    shots = models.JSONField(default=list, blank=True)
    # What the job read besides its prompt: input stills and source videos (kind, sha256, size).
    inputs = models.JSONField(default=list, blank=True)
    # Batching (issue 18): how many jobs shared the pipeline call that made this one's
    # first clip, that call's whole compute, and its id (shared by the batch's records).
    # compute_seconds above is this job's fair share: the call's compute over the batch
    # size, for the steps the job was live (a job cancelled mid-batch pays up to there).
    # (Database defaults too: bulk loads such as seed_scale's COPY name only older columns.)
    batch_size = models.PositiveSmallIntegerField(default=1, db_default=1)
    batch_compute_seconds = models.FloatField(default=0, db_default=0)
    batch_id = models.CharField(max_length=36, blank=True, default="", db_default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["artist", "program", "created_at"], name="generation_usage_artist_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(compute_seconds__gte=0), name="generation_usage_compute_nonneg"),
        ]

    def __str__(self) -> str:
        return f"usage of job {self.job_id}: {self.compute_seconds:.2f}s on {self.device_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableUsageRecord("Usage records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableUsageRecord("Usage records are append-only.")
