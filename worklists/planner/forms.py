"""The planner page's form: a period, and scenario B as a roster file or an added reader."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from worklists.models import Worklist

WEEKDAYS = [
    (0, _("Mon")),
    (1, _("Tue")),
    (2, _("Wed")),
    (3, _("Thu")),
    (4, _("Fri")),
    (5, _("Sat")),
    (6, _("Sun")),
]
HOURS = [(h, f"{h:02d}") for h in range(25)]
# The page replays while the coordinator waits; longer periods: manage.py plan_capacity.
MAX_DAYS = 14


class PlannerForm(forms.Form):
    start = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    days = forms.IntegerField(label=_("Days"), min_value=1, max_value=MAX_DAYS, initial=7)
    roster = forms.FileField(
        label=_("Roster file (.csv or .ics)"),
        required=False,
        help_text=_("Scenario B replaces the period's roster with this one."),
    )
    worklist = forms.ModelChoiceField(
        label=_("Or add a reader in"),
        queryset=Worklist.objects.order_by("display_order", "name"),
        required=False,
        empty_label=_("(no reader added)"),
    )
    from_hour = forms.TypedChoiceField(label=_("From"), choices=HOURS, coerce=int, initial=18)
    to_hour = forms.TypedChoiceField(label=_("To"), choices=HOURS, coerce=int, initial=24)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("On"),
        choices=WEEKDAYS,
        coerce=int,
        initial=[0, 1, 2, 3, 4],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("worklist") is not None:
            if data.get("from_hour") == data.get("to_hour"):
                self.add_error("to_hour", _("The hours must differ."))
            if not data.get("weekdays"):
                self.add_error("weekdays", _("Choose at least one day."))
        return data

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        """From midnight of the first day to midnight after the last, on the platform's clock
        (a day with a summer-time change is 23 or 25 hours)."""
        zone = timezone.get_default_timezone()
        first: dt.date = self.cleaned_data["start"]
        last = first + dt.timedelta(days=self.cleaned_data["days"])
        return (
            dt.datetime.combine(first, dt.time(), tzinfo=zone),
            dt.datetime.combine(last, dt.time(), tzinfo=zone),
        )
