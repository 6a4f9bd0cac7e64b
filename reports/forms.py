"""The reading page's forms: they check form only; the services decide."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.models import CommunicationMethod, CriticalCategory, RejectionReason
from reports.services.drafts import DraftInput
from reports.services.signing import CommunicationInput

MAX_POSTED_SECTIONS = 20


def posted_draft(data: QueryDict) -> DraftInput | None:
    """The editor's sections as posted (sections-N-key/-title/-text), with their revision."""
    try:
        count = min(int(data.get("section_count", "0")), MAX_POSTED_SECTIONS)
        revision = int(data.get("revision", ""))
    except ValueError:
        return None
    sections = [
        {
            "key": data.get(f"sections-{i}-key", ""),
            "title": data.get(f"sections-{i}-title", ""),
            "text": data.get(f"sections-{i}-text", ""),
        }
        for i in range(count)
    ]
    return DraftInput(sections=sections, base_revision=revision) if sections else None


class SignForm(forms.Form):
    password = forms.CharField(strip=False, required=False, widget=forms.PasswordInput)
    critical_category = forms.ChoiceField(
        choices=[("", _("No critical finding")), *CriticalCategory.choices], required=False
    )


class CommunicationForm(forms.Form):
    communicated_to = forms.CharField(max_length=200, label=_("Communicated to"))
    method = forms.ChoiceField(choices=CommunicationMethod.choices)
    communicated_at = forms.DateTimeField(
        label=_("When"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    read_back_confirmed = forms.BooleanField(required=False, label=_("Read back and confirmed"))

    def __init__(self, *args: Any, zone: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The reader types the time on the site's clock.
        self.zone = zone

    def clean_communicated_at(self) -> dt.datetime:
        value: dt.datetime = self.cleaned_data["communicated_at"]
        # Django read the naive input on the server's clock; read it again on the site's.
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return timezone.make_aware(naive, self.zone)

    def to_input(self) -> CommunicationInput:
        data = self.cleaned_data
        return CommunicationInput(
            communicated_to=data["communicated_to"],
            method=data["method"],
            communicated_at=data["communicated_at"],
            read_back_confirmed=data["read_back_confirmed"],
        )


class RejectForm(forms.Form):
    reason = forms.ChoiceField(choices=RejectionReason.choices)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AddendumForm(forms.Form):
    reason = forms.CharField(max_length=500)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput)
    critical_category = forms.ChoiceField(
        choices=[("", _("No critical finding")), *CriticalCategory.choices], required=False
    )


class CorrectionForm(forms.Form):
    """The corrected sections come as the editor posts them (sections-N-...)."""

    reason = forms.CharField(max_length=500)
    password = forms.CharField(strip=False, widget=forms.PasswordInput)


SCORE_CHOICES = [(n, str(n)) for n in range(1, 6)]


class IndependentReadForm(forms.Form):
    """An independent read's signature: the password and the screening result."""

    password = forms.CharField(strip=False, required=False, widget=forms.PasswordInput)
    score_right = forms.TypedChoiceField(choices=SCORE_CHOICES, coerce=int, label=_("Right"))
    score_left = forms.TypedChoiceField(choices=SCORE_CHOICES, coerce=int, label=_("Left"))
    recall = forms.TypedChoiceField(
        choices=[("no", _("No recall")), ("yes", _("Recall"))],
        coerce=lambda value: value == "yes",
        label=_("Recall"),
    )
