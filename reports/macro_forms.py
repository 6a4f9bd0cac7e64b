"""The macro page's form: it checks form only; reports.services.macros decides."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from reports.services.macros import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS
from worklists.models import Worklist


class MacroForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=MAX_NAME_CHARS + 1,
        help_text=_("One word, typed after the trigger in the editor, e.g. normal."),
    )
    text = forms.CharField(
        label=_("Text"),
        max_length=MAX_TEXT_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    description = forms.CharField(
        label=_("Description"), max_length=MAX_DESCRIPTION_CHARS, required=False
    )
    worklist = forms.ModelChoiceField(
        label=_("Worklist"),
        queryset=Worklist.objects.none(),
        required=False,
        empty_label=_("Personal (only you)"),
        help_text=_("Share it with everyone reading this worklist."),
    )

    def __init__(
        self, *args: Any, worklists: QuerySet[Worklist] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        worklist_field = self.fields["worklist"]
        if worklists is None:
            # Only coordinators choose a worklist; for anyone else the field does not exist.
            del self.fields["worklist"]
        else:
            assert isinstance(worklist_field, forms.ModelChoiceField)
            worklist_field.queryset = worklists
