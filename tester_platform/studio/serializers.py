"""Serializers of the studio's API (tester_platform.studio.api): generations and input stills."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from generation.models import GenerationJob
from generation.presets import ASPECT_RATIOS, RESOLUTIONS
from tester_platform.api.links import absolute
from tester_platform.studio.media import signed_media_url


class ShotSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=2000, help_text="What happens in this shot.")
    seconds = serializers.FloatField(min_value=1, max_value=20, help_text="Its length, 1-20 s.")
    image = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text=(
            "An uploaded still (POST /api/v1/images/) this shot starts from: the first shot starts from it, a later "
            "shot cuts to it. Without one, a later shot continues the previous one by extension."
        ),
    )


GENERATION_MODES = GenerationJob.Mode.choices
# The engine's presets, so the schema's enums are the values the engine accepts.
ASPECT_RATIO_CHOICES = list(ASPECT_RATIOS)
RESOLUTION_CHOICES = list(RESOLUTIONS)
PRESETS = ["gentle", "smooth", "strong", "continue", "new_direction"]


class GenerationCreateSerializer(serializers.Serializer):
    """One generation; every mode makes ONE MP4 (a long video or a storyboard is rendered
    as one job, chained by extension). The program's length cap applies to the whole
    result, an extension of an extension included."""

    program = serializers.IntegerField(min_value=1)
    mode = serializers.ChoiceField(
        choices=GENERATION_MODES,
        help_text=(
            "text_to_video; image_to_video (needs `image`); storyboard (needs `shots`); variation, extension, loop "
            "and recut (need `source_generation`, one of your finished videos)."
        ),
    )
    prompt = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text=("Required except for storyboard (each shot has its own) and loop (defaults to the source's)."),
    )
    negative_prompt = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    duration_seconds = serializers.IntegerField(
        min_value=1,
        max_value=20,
        required=False,
        help_text=(
            "text_to_video and image_to_video: the video's length (above one clip it is chained). extension and "
            "recut: the seconds to add."
        ),
    )
    aspect_ratio = serializers.ChoiceField(choices=ASPECT_RATIO_CHOICES, default="16:9")
    resolution = serializers.ChoiceField(choices=RESOLUTION_CHOICES, default="preview")
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, allow_null=True)
    source_generation = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    strength = serializers.FloatField(min_value=0.01, max_value=1.0, required=False, allow_null=True)
    image = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="image_to_video: an uploaded still (POST /api/v1/images/).",
    )
    shots = ShotSerializer(
        many=True, required=False, allow_null=True, help_text="storyboard: the shots in order (at most 8, 20 s in all)."
    )
    preset = serializers.ChoiceField(
        choices=PRESETS,
        required=False,
        allow_null=True,
        help_text=("loop: gentle | smooth | strong (the seam's length and strength); recut: continue | new_direction."),
    )
    keep_from_seconds = serializers.FloatField(
        min_value=0, required=False, allow_null=True, help_text="recut: where the kept span of the source starts."
    )
    keep_to_seconds = serializers.FloatField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="recut: where it ends; then `duration_seconds` are added.",
    )

    def validate(self, data):
        mode = data["mode"]
        if mode in ("text_to_video", "image_to_video") and "duration_seconds" not in data:
            raise serializers.ValidationError({"duration_seconds": ["Choose a duration from 1 to 20 seconds."]})
        if mode in ("variation", "extension", "loop", "recut") and data.get("source_generation") is None:
            raise serializers.ValidationError(
                {"source_generation": ["Variations, extensions, loops and re-cuts need a source."]}
            )
        if mode == "image_to_video" and data.get("image") is None:
            raise serializers.ValidationError({"image": ["Upload the still first (POST /api/v1/images/)."]})
        if mode == "storyboard" and not data.get("shots"):
            raise serializers.ValidationError({"shots": ["Lay out at least one shot."]})
        if data.get("shots") is not None:
            data["shots"] = [dict(shot) for shot in data["shots"]]
        return data


class ImageUploadSerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1)
    image = serializers.FileField(
        help_text=(
            "A PNG, JPEG or WebP still, at most 10 MB and 4096 px a side; its type is checked by decoding, and it is "
            "stored re-encoded without EXIF, privately."
        )
    )
    rights_attested = serializers.BooleanField(help_text="You hold the rights to use this image. Must be true.")


class InputImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    program = serializers.IntegerField(source="program_id")
    sha256 = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    bytes = serializers.IntegerField()
    source_format = serializers.CharField()
    created_at = serializers.DateTimeField()


class GenerationOutputSerializer(serializers.Serializer):
    video_url = serializers.URLField(help_text="Signed and short-lived; honours Range.")
    thumbnail_url = serializers.URLField(allow_null=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    frames = serializers.IntegerField()
    fps = serializers.IntegerField()
    duration_seconds = serializers.FloatField()


class UsageShotSerializer(serializers.Serializer):
    """One line of a usage record per storyboard shot (a plain video is one shot)."""

    shot = serializers.IntegerField(help_text="The shot's number, from 1.")
    prompt = serializers.CharField(help_text="Its prompt, cut at 200 characters.")
    segments = serializers.IntegerField(help_text="Model calls the shot took.")
    frames = serializers.IntegerField(help_text="Frames it added to the video.")
    steps = serializers.IntegerField(help_text="Denoising steps run for it.")
    compute_seconds = serializers.FloatField()


class UsageInputSerializer(serializers.Serializer):
    """Something a job read besides its prompt: an input still or a source video."""

    kind = serializers.ChoiceField(choices=["image", "video"])
    role = serializers.CharField(help_text="e.g. `start image of shot 1`, `source video`.")
    sha256 = serializers.CharField(allow_blank=True)
    image = serializers.IntegerField(required=False, help_text="kind image: the uploaded still's id.")
    width = serializers.IntegerField(required=False, help_text="kind image.")
    height = serializers.IntegerField(required=False, help_text="kind image.")
    bytes = serializers.IntegerField(required=False, help_text="kind image.")
    generation = serializers.IntegerField(required=False, help_text="kind video: the source generation's id.")
    frames = serializers.IntegerField(required=False, help_text="kind video: the source's frame count.")


class UsageSerializer(serializers.Serializer):
    device = serializers.CharField(source="device_name")
    compute_seconds = serializers.FloatField()
    wall_seconds = serializers.FloatField()
    queue_seconds = serializers.FloatField()
    peak_memory_bytes = serializers.IntegerField()
    frames = serializers.IntegerField()
    steps = serializers.IntegerField()
    cancelled = serializers.BooleanField()
    shots = UsageShotSerializer(many=True, help_text="Per shot: frames, steps, compute seconds.")
    inputs = UsageInputSerializer(many=True, help_text="Input stills and source videos read.")


class InputImageRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sha256 = serializers.CharField()


class ShotProgressSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="From 1.")
    prompt = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=["done", "running", "waiting"])
    percent = serializers.IntegerField(min_value=0, max_value=100)
    seconds = serializers.FloatField()


class ProvenanceClaimsSerializer(serializers.Serializer):
    """What the platform vouches for in the signed manifest (nothing personal)."""

    artist_pseudonym = serializers.CharField()
    consent_record_id = serializers.IntegerField()
    consent_version = serializers.IntegerField(allow_null=True)
    training_use = serializers.BooleanField()
    program_ref = serializers.CharField(allow_blank=True)


class ProvenanceSerializer(serializers.Serializer):
    claims = ProvenanceClaimsSerializer(allow_null=True, help_text="null for a job that recorded none.")
    manifest_validation_state = serializers.CharField(
        allow_blank=True, help_text="The C2PA validation state of the signed output (e.g. `Valid`); empty before."
    )
    output_sha256 = serializers.CharField(allow_blank=True, help_text="SHA-256 of the MP4 before signing.")
    signed_sha256 = serializers.CharField(allow_blank=True, help_text="SHA-256 of the signed MP4 served.")


class GenerationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    program = serializers.IntegerField(source="program_id")
    mode = serializers.ChoiceField(choices=GenerationJob.Mode.choices)
    status = serializers.ChoiceField(choices=GenerationJob.Status.choices)
    progress = serializers.IntegerField()
    error = serializers.CharField()
    prompt = serializers.CharField()
    negative_prompt = serializers.CharField()
    seed = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    num_frames = serializers.IntegerField()
    fps = serializers.IntegerField()
    steps = serializers.IntegerField()
    strength = serializers.FloatField(allow_null=True)
    aspect_ratio = serializers.ChoiceField(choices=ASPECT_RATIO_CHOICES)
    resolution = serializers.ChoiceField(choices=RESOLUTION_CHOICES)
    duration_seconds = serializers.FloatField()
    source_generation = serializers.IntegerField(source="source_job_id", allow_null=True)
    consent_record = serializers.IntegerField(source="consent_record_id")
    training_use = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    input_image = serializers.SerializerMethodField()
    shots = serializers.SerializerMethodField()
    output = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    provenance = serializers.SerializerMethodField()

    def _user(self):
        return self.context["request"].user

    @extend_schema_field(GenerationOutputSerializer(allow_null=True))
    def get_output(self, job) -> dict | None:
        video = signed_media_url(job=job, kind="video", user=self._user())
        if not video or job.status != "succeeded":
            return None
        return {
            "video_url": absolute(self.context, video),
            "thumbnail_url": absolute(self.context, signed_media_url(job=job, kind="thumbnail", user=self._user()))
            or None,
            "width": job.width,
            "height": job.height,
            "frames": job.num_frames,
            "fps": job.fps,
            "duration_seconds": job.duration_seconds,
        }

    @extend_schema_field(InputImageRefSerializer(allow_null=True))
    def get_input_image(self, job) -> dict | None:
        if not job.input_image_id:
            return None
        return {"id": job.input_image_id, "sha256": job.input_image.sha256}

    @extend_schema_field(ShotProgressSerializer(many=True))
    def get_shots(self, job) -> list[dict]:
        """Per storyboard shot (a plain video is one): prompt, seconds, state, percent."""
        return job.shot_progress()

    @extend_schema_field(UsageSerializer(allow_null=True))
    def get_usage(self, job) -> dict | None:
        usage = getattr(job, "usage", None) if job.status not in ("queued", "running") else None
        return UsageSerializer(usage).data if usage else None

    @extend_schema_field(ProvenanceSerializer())
    def get_provenance(self, job) -> dict:
        return ProvenanceSerializer(
            {
                "claims": job.provenance_claims or None,
                "manifest_validation_state": job.manifest_validation_state,
                "output_sha256": job.output_sha256,
                "signed_sha256": job.signed_sha256,
            }
        ).data
