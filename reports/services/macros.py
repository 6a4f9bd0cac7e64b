"""Macros: named text snippets for the report editor, personal or shared per worklist.

The rules: a radiologist keeps their own personal macros, which nobody else sees or changes;
shared macros belong to a worklist and are kept by the coordinators. A name is unique per
owner and per worklist (a personal macro may share its name with a shared one, and then wins
in its owner's editor). Names are lowercase so that what is typed after the trigger matches.
"""

from __future__ import annotations

import dataclasses
import re

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.models import Macro
from reports.services.errors import NotPermitted, ReportError, ReportInvalid
from worklists.access import is_coordinator, radiologist_of
from worklists.errors import ErrorKind
from worklists.models import Worklist

# What the reader types before a macro's name in the editor.
MACRO_TRIGGER = "."
MAX_NAME_CHARS = 30
MAX_TEXT_CHARS = 5_000
MAX_DESCRIPTION_CHARS = 200
_NAME = re.compile(r"^[a-z0-9æøå][a-z0-9æøå_-]*$")


class MacroNotFound(ReportError):
    """No such macro for this user: someone else's personal macro is reported as missing,
    never as forbidden, so that its existence is not revealed."""

    kind = ErrorKind.NOT_FOUND


@dataclasses.dataclass(frozen=True, slots=True)
class MacroInput:
    name: str
    text: str
    description: str = ""


def clean_macro_name(raw: str) -> str:
    """The name as stored: trimmed, lowercased, without a leading trigger the reader typed."""
    name = raw.strip().lower()
    if name.startswith((MACRO_TRIGGER, ";")):
        name = name[1:]
    if not name:
        raise ReportInvalid(_("give the macro a name"), field="name")
    if len(name) > MAX_NAME_CHARS:
        raise ReportInvalid(
            _("a name has at most %(count)d characters") % {"count": MAX_NAME_CHARS}, field="name"
        )
    if not _NAME.match(name):
        raise ReportInvalid(
            _(
                "a name is one word of letters (a-z, æ, ø, å), digits, - or _, "
                "starting with a letter or digit"
            ),
            field="name",
        )
    return name


def _clean(data: MacroInput) -> MacroInput:
    text = data.text.replace("\r\n", "\n")
    if not text.strip():
        raise ReportInvalid(_("write the text the macro inserts"), field="text")
    if len(text) > MAX_TEXT_CHARS:
        raise ReportInvalid(
            _("a macro's text has at most %(count)d characters") % {"count": MAX_TEXT_CHARS},
            field="text",
        )
    description = data.description.strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ReportInvalid(
            _("a description has at most %(count)d characters") % {"count": MAX_DESCRIPTION_CHARS},
            field="description",
        )
    return MacroInput(name=clean_macro_name(data.name), text=text, description=description)


def _require_unique(macro: Macro) -> None:
    clash = Macro.objects.filter(name=macro.name).exclude(pk=macro.pk)
    if macro.owner_id is not None:
        if clash.filter(owner_id=macro.owner_id).exists():
            raise ReportInvalid(
                _("you already have a macro named %(name)s") % {"name": repr(macro.name)},
                field="name",
            )
    elif macro.worklist_id is not None and clash.filter(worklist_id=macro.worklist_id).exists():
        raise ReportInvalid(
            _("this worklist already has a shared macro named %(name)s")
            % {"name": repr(macro.name)},
            field="name",
        )


def _save(macro: Macro, *, fields: list[str] | None = None) -> Macro:
    _require_unique(macro)
    try:
        # A savepoint: two saves of one name racing leave the loser a clear error, and the
        # caller's transaction usable.
        with transaction.atomic():
            if fields is None:
                macro.save()
            else:
                macro.save(update_fields=fields)
    except IntegrityError as exc:
        raise ReportInvalid(
            _("a macro named %(name)s already exists") % {"name": repr(macro.name)}, field="name"
        ) from exc
    return macro


def is_owner(*, user: AbstractBaseUser, macro: Macro) -> bool:
    return macro.owner is not None and macro.owner.user_id == user.pk


def may_edit_macro(*, user: AbstractBaseUser, macro: Macro) -> bool:
    if macro.owner_id is not None:
        return is_owner(user=user, macro=macro)
    return is_coordinator(user)


def _editable(user: AbstractBaseUser, macro_id: int) -> Macro:
    macro = (
        Macro.objects.select_for_update(of=("self",))
        .select_related("owner", "worklist")
        .filter(pk=macro_id)
        .first()
    )
    if macro is None or (macro.owner_id is not None and not is_owner(user=user, macro=macro)):
        raise MacroNotFound(_("no such macro"))
    if not may_edit_macro(user=user, macro=macro):
        raise NotPermitted(_("shared macros are kept by the coordinators"))
    return macro


@transaction.atomic
def macro_create(
    *, user: AbstractBaseUser, data: MacroInput, worklist_id: int | None = None
) -> Macro:
    """A personal macro of the calling radiologist, or (``worklist_id`` given, coordinators
    only) a macro shared in that worklist."""
    clean = _clean(data)
    now = timezone.now()
    macro = Macro(
        name=clean.name,
        text=clean.text,
        description=clean.description,
        created_at=now,
        updated_at=now,
    )
    if worklist_id is None:
        radiologist = radiologist_of(user)
        if radiologist is None:
            raise NotPermitted(_("personal macros belong to radiologists"))
        macro.owner = radiologist
    else:
        if not is_coordinator(user):
            raise NotPermitted(_("shared macros are kept by the coordinators"))
        worklist = Worklist.objects.filter(pk=worklist_id).first()
        if worklist is None:
            raise ReportInvalid(_("no such worklist"), field="worklist")
        macro.worklist = worklist
    return _save(macro)


@transaction.atomic
def macro_update(*, user: AbstractBaseUser, macro_id: int, data: MacroInput) -> Macro:
    """Change a macro's name, text and description; its scope never changes."""
    macro = _editable(user, macro_id)
    clean = _clean(data)
    macro.name, macro.text, macro.description = clean.name, clean.text, clean.description
    macro.updated_at = timezone.now()
    return _save(macro, fields=["name", "text", "description", "updated_at"])


@transaction.atomic
def macro_delete(*, user: AbstractBaseUser, macro_id: int) -> None:
    _editable(user, macro_id).delete()
