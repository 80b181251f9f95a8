from django import forms
from django.core.validators import MaxValueValidator

from generation.models import GenerationJob
from generation.presets import ASPECT_RATIOS as PRESET_RATIOS
from generation.presets import DEFAULT_LOOP_PRESET, DEFAULT_RECUT_PRESET, LOOP_PRESETS, RECUT_PRESETS
from generation.presets import RESOLUTIONS as PRESET_RESOLUTIONS

ASPECT_RATIOS = list(PRESET_RATIOS)
RESOLUTIONS = list(PRESET_RESOLUTIONS)


class OptionsSelect(forms.Select):
    """A select whose options may be greyed out (disabled), each with its reason in its
    label, so the form offers only what the program and its model allow."""

    def __init__(self, *args, disabled: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.disabled = disabled or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        reason = self.disabled.get(str(value))
        if reason:
            option["attrs"]["disabled"] = True
            option["label"] = f"{label} (not available: {reason})"
        return option


IMAGE_ACCEPT = "image/png,image/jpeg,image/webp,.png,.jpg,.jpeg,.webp"
RIGHTS_LABEL = "I hold the rights to use the image(s) I upload here"


class GenerateForm(forms.Form):
    program = forms.TypedChoiceField(coerce=int, label="Program")
    mode = forms.ChoiceField(
        choices=[("text_to_video", "From text"), ("image_to_video", "From an image")],
        initial="text_to_video",
        label="Start from",
    )
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=GenerationJob.PROMPT_MAX_LENGTH)
    image = forms.FileField(
        required=False,
        label="Start image",
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text="PNG, JPEG or WebP, up to 10 MB and 4096 px a side. It is kept "
        "private; EXIF (location, camera) is removed.",
    )
    rights_attested = forms.BooleanField(required=False, label=RIGHTS_LABEL)
    negative_prompt = forms.CharField(
        required=False, max_length=GenerationJob.PROMPT_MAX_LENGTH, label="Avoid (negative prompt)"
    )
    duration_seconds = forms.IntegerField(min_value=1, max_value=10, initial=2, label="Duration (seconds)")
    aspect_ratio = forms.ChoiceField(choices=[(r, r) for r in ASPECT_RATIOS], initial="16:9")
    resolution = forms.ChoiceField(choices=[(r, r) for r in RESOLUTIONS], initial="preview")
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Leave empty for a random seed; it is recorded either way.",
    )

    def __init__(self, *args, programs, options: dict[int, dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = [(p.pk, p.name) for p in programs]
        self.options = options or {}
        current = self._current_options(programs)
        if current:
            self.apply_options(current)

    def _current_options(self, programs) -> dict | None:
        raw = self.data.get("program") if self.is_bound else None
        try:
            chosen = int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            chosen = None
        if chosen in self.options:
            return self.options[chosen]
        return self.options.get(programs[0].pk) if programs else None

    MODE_FIELDS = {
        "text_to_video": [
            "program",
            "mode",
            "prompt",
            "negative_prompt",
            "duration_seconds",
            "aspect_ratio",
            "resolution",
            "seed",
        ],
        "image_to_video": [
            "program",
            "mode",
            "prompt",
            "image",
            "rights_attested",
            "negative_prompt",
            "duration_seconds",
            "aspect_ratio",
            "resolution",
            "seed",
        ],
    }

    def apply_options(self, options: dict) -> None:
        if not options.get("image_to_video"):
            mode = self.fields["mode"]
            mode.widget = OptionsSelect(
                choices=mode.choices,
                disabled={"image_to_video": f"the model {options['model']} has no image-to-video pipeline"},
            )
        disabled = {r["value"]: r["reason"] for r in options["resolutions"] if not r["allowed"]}
        field = self.fields["resolution"]
        field.widget = OptionsSelect(choices=field.choices, disabled=disabled)
        reasons = [f"{value}: {reason}." for value, reason in disabled.items()]
        field.help_text = " ".join(["Greyed out:", *reasons]) if reasons else ""
        longest = options["max_duration_seconds"]
        duration = self.fields["duration_seconds"]
        duration.max_value = longest
        duration.validators = [v for v in duration.validators if not isinstance(v, MaxValueValidator)]
        duration.validators.append(MaxValueValidator(longest))
        duration.widget.attrs["max"] = longest
        duration.help_text = f"1 to {longest} seconds in this program."
        if not self.is_bound and "duration_seconds" in self.initial and self.initial["duration_seconds"] > longest:
            self.initial["duration_seconds"] = longest

    def clean_resolution(self):
        value = self.cleaned_data["resolution"]
        reason = getattr(self.fields["resolution"].widget, "disabled", {}).get(value)
        if reason:
            raise forms.ValidationError(f"{value} is not available: {reason}.")
        return value

    def clean_mode(self):
        value = self.cleaned_data["mode"]
        reason = getattr(self.fields["mode"].widget, "disabled", {}).get(value)
        if reason:
            raise forms.ValidationError(f"Not available: {reason}.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("mode") == "image_to_video" and not data.get("image"):
            self.add_error("image", "Upload the still the video starts from.")
        if data.get("mode") == "text_to_video":
            data["image"] = None
        return data


MAX_STORYBOARD_ROWS = 4


class StoryboardForm(GenerateForm):
    """Shots in order, rendered as one video: the first from its text (or its image), each
    next one continuing the last by extension with its own prompt (or cutting to its image)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("mode", "prompt", "image", "duration_seconds", "negative_prompt"):
            del self.fields[name]
        fields = {}
        for n in range(1, MAX_STORYBOARD_ROWS + 1):
            fields[f"shot_{n}_prompt"] = forms.CharField(
                required=n == 1,
                max_length=GenerationJob.PROMPT_MAX_LENGTH,
                label=f"Shot {n}: what happens",
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text="" if n <= 2 else "Optional.",
            )
            fields[f"shot_{n}_seconds"] = forms.IntegerField(
                required=False, min_value=1, max_value=20, initial=2, label=f"Shot {n}: seconds"
            )
            fields[f"shot_{n}_image"] = forms.FileField(
                required=False,
                label=f"Shot {n}: start image (optional)",
                widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
                help_text="The first shot starts from it; a later shot cuts to it." if n == 1 else "",
            )
        rights = self.fields.pop("rights_attested")
        seed = self.fields.pop("seed")
        self.fields.update(fields)
        self.fields["rights_attested"] = rights
        self.fields["seed"] = seed

    def apply_options(self, options: dict) -> None:
        super().apply_options(options)
        self.longest = options["max_duration_seconds"]

    def clean(self):
        data = forms.Form.clean(self)
        shots = []
        for n in range(1, MAX_STORYBOARD_ROWS + 1):
            prompt = (data.get(f"shot_{n}_prompt") or "").strip()
            if not prompt:
                if data.get(f"shot_{n}_image"):
                    self.add_error(f"shot_{n}_prompt", "Say what happens in this shot.")
                continue
            seconds = data.get(f"shot_{n}_seconds") or 2
            shots.append({"n": n, "prompt": prompt, "seconds": seconds, "image": data.get(f"shot_{n}_image")})
        if not shots:
            self.add_error("shot_1_prompt", "Lay out at least one shot.")
        data["shots"] = shots
        return data


class DeriveForm(forms.Form):
    """A variation, extension, loop or re-cut of one of the artist's own outputs."""

    # The fields each mode uses; studio.js shows only those (the server ignores the rest).
    MODE_FIELDS = {
        "variation": ["prompt", "strength", "seed"],
        "extension": ["prompt", "strength", "duration_seconds", "seed"],
        "loop": ["loop_preset", "prompt", "seed"],
        "recut": ["keep_from_seconds", "keep_to_seconds", "prompt", "duration_seconds", "recut_preset", "seed"],
    }

    mode = forms.ChoiceField(
        choices=[
            ("variation", "Variation"),
            ("extension", "Extension"),
            ("loop", "Loop (end flows into start)"),
            ("recut", "Re-cut (keep a span, extend from it)"),
        ]
    )
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=GenerationJob.PROMPT_MAX_LENGTH,
        required=False,
        help_text="Loops keep the source's prompt when this is empty.",
    )
    strength = forms.FloatField(required=False, min_value=0.05, max_value=1.0, initial=0.7)
    loop_preset = forms.ChoiceField(
        choices=[(k, v["label"]) for k, v in LOOP_PRESETS.items()],
        initial=DEFAULT_LOOP_PRESET,
        required=False,
        label="Loop preset",
    )
    keep_from_seconds = forms.FloatField(required=False, min_value=0, initial=0, label="Keep from (seconds)")
    keep_to_seconds = forms.FloatField(required=False, min_value=0, label="Keep to (seconds)")
    recut_preset = forms.ChoiceField(
        choices=[(k, v["label"]) for k, v in RECUT_PRESETS.items()],
        initial=DEFAULT_RECUT_PRESET,
        required=False,
        label="Re-cut preset",
    )
    duration_seconds = forms.IntegerField(required=False, min_value=1, max_value=20, initial=1, label="Seconds to add")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)

    def submit_params(self) -> dict:
        """What the chosen mode takes, for generation_submit (the other fields are ignored)."""
        data, mode = self.cleaned_data, self.cleaned_data["mode"]
        params = {"mode": mode, "prompt": data["prompt"], "seed": data["seed"]}
        if mode in ("variation", "extension"):
            params["strength"] = data["strength"]
        if mode in ("extension", "recut"):
            params["duration_seconds"] = data["duration_seconds"]
        if mode == "loop":
            params["preset"] = data["loop_preset"] or None
        if mode == "recut":
            params.update(
                preset=data["recut_preset"] or None,
                keep_from_seconds=data["keep_from_seconds"],
                keep_to_seconds=data["keep_to_seconds"],
            )
        return params
