from django import forms
from django.core.validators import MaxValueValidator

from generation.models import GenerationJob
from generation.presets import ASPECT_RATIOS as PRESET_RATIOS
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


class GenerateForm(forms.Form):
    program = forms.TypedChoiceField(coerce=int, label="Program")
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=GenerationJob.PROMPT_MAX_LENGTH)
    negative_prompt = forms.CharField(required=False, max_length=GenerationJob.PROMPT_MAX_LENGTH,
                                      label="Avoid (negative prompt)")
    duration_seconds = forms.IntegerField(min_value=1, max_value=10, initial=2, label="Duration (seconds)")
    aspect_ratio = forms.ChoiceField(choices=[(r, r) for r in ASPECT_RATIOS], initial="16:9")
    resolution = forms.ChoiceField(choices=[(r, r) for r in RESOLUTIONS], initial="preview")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1,
                              help_text="Leave empty for a random seed; it is recorded either way.")

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

    def apply_options(self, options: dict) -> None:
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


class DeriveForm(forms.Form):
    """Variation or extension of one of the artist's own outputs."""

    # The fields each mode uses; studio.js shows only those (the server ignores the rest).
    MODE_FIELDS = {
        "variation": ["prompt", "strength", "seed"],
        "extension": ["prompt", "strength", "duration_seconds", "seed"],
    }

    mode = forms.ChoiceField(choices=[("variation", "Variation"), ("extension", "Extension")])
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=GenerationJob.PROMPT_MAX_LENGTH)
    strength = forms.FloatField(required=False, min_value=0.05, max_value=1.0, initial=0.7)
    duration_seconds = forms.IntegerField(required=False, min_value=1, max_value=10, initial=1,
                                          label="Seconds to add (extension)")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
