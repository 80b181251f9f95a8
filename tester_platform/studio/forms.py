from django import forms

from generation.models import GenerationJob

ASPECT_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
RESOLUTIONS = ["preview", "480p", "720p", "1080p"]


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

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = [(p.pk, p.name) for p in programs]


class DeriveForm(forms.Form):
    """Variation or extension of one of the artist's own outputs."""

    mode = forms.ChoiceField(choices=[("variation", "Variation"), ("extension", "Extension")])
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=GenerationJob.PROMPT_MAX_LENGTH)
    strength = forms.FloatField(required=False, min_value=0.05, max_value=1.0, initial=0.7)
    duration_seconds = forms.IntegerField(required=False, min_value=1, max_value=10, initial=1,
                                          label="Seconds to add (extension)")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
