"""The portal's query (page, CSV and API read it alike): state, period, search."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from reports.portal.selectors import PortalFilters, default_period
from reports.portal.states import ALL_LABEL, LABELS, PortalState
from worklists.models import Site

# A search term is an accession number or an identifier: never longer than either column.
Q_MAX_LENGTH = 64


class PortalQueryForm(forms.Form):
    state = forms.ChoiceField(
        choices=[("", ALL_LABEL)] + [(s.value, LABELS[s]) for s in PortalState], required=False
    )
    date_from = forms.DateField(label=_("Ordered from"), required=False)
    date_to = forms.DateField(label=_("to"), required=False)
    q = forms.CharField(
        label=_("Accession number or patient identifier"),
        max_length=Q_MAX_LENGTH,
        required=False,
        strip=True,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The period ends before it starts."))
        return data

    def filters(self, *, site: Site, now: dt.datetime) -> PortalFilters:
        """The filters asked for; the default period (the last week) when no date is given.
        A search looks at every date unless a period is given with it."""
        data = self.cleaned_data if self.is_valid() else {}
        state = PortalState(data["state"]) if data.get("state") else None
        start, end = data.get("date_from"), data.get("date_to")
        q = data.get("q", "")
        if start is None and end is None and not q:
            start, end = default_period(site=site, now=now)
        return PortalFilters(state=state, date_from=start, date_to=end, q=q)

    @classmethod
    def from_query(cls, query: Any) -> PortalQueryForm:
        """Bound to ``request.GET`` (its names from/to are shorter than the fields')."""
        return cls(
            {
                "state": query.get("state", ""),
                "date_from": query.get("from", ""),
                "date_to": query.get("to", ""),
                "q": query.get("q", ""),
            }
        )
