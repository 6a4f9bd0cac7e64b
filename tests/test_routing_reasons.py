"""Every reason the routing rules give for passing a reader over reads in the page's language:
worklists.routing (pure, English, stored in traces) against worklists.routing_reasons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from worklists import routing
from worklists.routing_reasons import exclusion_reason_shown

# The variable parts of the rules' f-strings, as they come out
SAMPLES = {
    "latest.valid_until.isoformat()": "2026-11-30",
    "latest.valid_from.isoformat()": "2026-12-24",
    "study.modality": "MR",
    "minutes": "30",
}


def reasons_the_rules_give() -> list[str]:
    source = Path(routing.__file__).read_text(encoding="utf-8")
    reasons = []
    for _f, text in re.findall(r'return (f?)"([^"]+)"', source):
        reasons.append(re.sub(r"\{([^}]+)\}", lambda m: SAMPLES[str(m.group(1))], text))
    return reasons


def test_the_rules_give_the_reasons_this_test_knows():
    assert len(reasons_the_rules_give()) >= 13


@pytest.mark.parametrize("reason", reasons_the_rules_give())
def test_every_reason_of_the_rules_reads_in_bokmal(reason):
    with translation.override("nb"):
        shown = exclusion_reason_shown(reason)
    with translation.override("en"):
        english = exclusion_reason_shown(reason)

    assert shown != reason
    # English keeps the rules' words; a day reads as on every page (30.11.2026)
    assert english == re.sub(r"(\d{4})-(\d{2})-(\d{2})", r"\3.\2.\1", reason)


def test_a_dated_reason_shows_the_day_as_pages_do():
    with translation.override("nb"):
        shown = exclusion_reason_shown("credential for this site expired on 2026-11-30")

    assert shown == "autorisasjonen for denne institusjonen gikk ut 30.11.2026"


def test_a_reason_nobody_translated_is_shown_as_the_rules_wrote_it():
    with translation.override("nb"):
        assert exclusion_reason_shown("a reason added later") == "a reason added later"
