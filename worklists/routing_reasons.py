"""The routing rules' reasons in the reader's language.

worklists.routing is pure (no Django) and says why a reader is passed over in English: that
text is stored in routing traces and answered by the API as it is. Pages show it translated:
each reason the rules can give has its translation here, the variable parts kept. A reason
not listed (one added to routing.py since) is shown as the rules wrote it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy

_FIXED = {
    "no credential for this site": gettext_lazy("no credential for this site"),
    "credential for this site revoked": gettext_lazy("credential for this site revoked"),
    "not on shift": gettext_lazy("not on shift"),
    "on shift, but not for this worklist and site": gettext_lazy(
        "on shift, but not for this worklist and site"
    ),
    "backup on this shift (primary readers only at tier 0)": gettext_lazy(
        "backup on this shift (primary readers only at tier 0)"
    ),
    "not an active radiologist": gettext_lazy("not an active radiologist"),
    "not competent in this worklist": gettext_lazy("not competent in this worklist"),
    "backup competence (primary readers only at tier 0)": gettext_lazy(
        "backup competence (primary readers only at tier 0)"
    ),
    "outside the site's coverage window: its own readers read it": gettext_lazy(
        "outside the site's coverage window: its own readers read it"
    ),
    "has read this study already: the reads are independent": gettext_lazy(
        "has read this study already: the reads are independent"
    ),
    "works at the site of an earlier reader of this study": gettext_lazy(
        "works at the site of an earlier reader of this study"
    ),
    "not among the readers this study is reserved for": gettext_lazy(
        "not among the readers this study is reserved for"
    ),
}


def _day(iso: str) -> str:
    return date_format(dt.date.fromisoformat(iso), "SHORT_DATE_FORMAT")


_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"credential for this site expired on (\d{4}-\d{2}-\d{2})"),
        lambda m: gettext("credential for this site expired on %(day)s") % {"day": _day(m[1])},
    ),
    (
        re.compile(r"credential for this site not valid until (\d{4}-\d{2}-\d{2})"),
        lambda m: gettext("credential for this site not valid until %(day)s") % {"day": _day(m[1])},
    ),
    (
        re.compile(r"does not read (\S+)"),
        lambda m: gettext("does not read %(modality)s") % {"modality": m[1]},
    ),
    (
        re.compile(r"idle for more than (\d+) minutes: no pushes until they act again"),
        lambda m: (
            gettext("idle for more than %(minutes)s minutes: no pushes until they act again")
            % {"minutes": m[1]}
        ),
    ),
)


def exclusion_reason_shown(reason: str) -> str:
    """``reason`` (from worklists.routing) in the active language."""
    fixed = _FIXED.get(reason)
    if fixed is not None:
        return str(fixed)
    for pattern, shown in _PATTERNS:
        if match := pattern.fullmatch(reason):
            return shown(match)
    return reason
