"""Report content: checking sections and hashing what is signed. Pure: no ORM."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reports.services.errors import ReportInvalid

MAX_SECTIONS = 20
MAX_SECTION_CHARS = 20_000
_KEY = re.compile(r"^[a-z0-9_-]{1,40}$")

Section = dict[str, str]


def clean_sections(raw: object) -> list[Section]:
    """Sections as a list of {"key", "title", "text"}; a clear error for anything else."""
    if not isinstance(raw, list):
        raise ReportInvalid("sections must be a list", field="sections")
    if len(raw) > MAX_SECTIONS:
        raise ReportInvalid(f"at most {MAX_SECTIONS} sections", field="sections")
    cleaned: list[Section] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"section {index + 1}"
        if not isinstance(item, Mapping):
            raise ReportInvalid(
                f"{where} must be an object with key, title and text", field="sections"
            )
        key, title, text = item.get("key"), item.get("title", ""), item.get("text", "")
        if not isinstance(key, str) or not _KEY.match(key):
            raise ReportInvalid(
                f"{where}: key must be 1-40 lowercase letters, digits, - or _", field="sections"
            )
        if key in seen:
            raise ReportInvalid(f"{where}: key {key!r} appears twice", field="sections")
        if not isinstance(title, str) or len(title) > 100:
            raise ReportInvalid(
                f"{where}: title must be text of at most 100 characters", field="sections"
            )
        if not isinstance(text, str) or len(text) > MAX_SECTION_CHARS:
            raise ReportInvalid(
                f"{where}: text must be at most {MAX_SECTION_CHARS} characters", field="sections"
            )
        seen.add(key)
        # One line ending whatever the browser sent, so the hash does not depend on it.
        cleaned.append({"key": key, "title": title.strip(), "text": text.replace("\r\n", "\n")})
    return cleaned


def has_text(sections: Iterable[Section]) -> bool:
    return any(section["text"].strip() for section in sections)


def content_hash(
    *,
    study_id: int,
    accession_number: str,
    site_code: str,
    number: int,
    kind: str,
    sections: list[Section],
    reason: str,
    signer_hpr: str,
    signed_at: dt.datetime,
    critical_category: str,
) -> str:
    """SHA-256 of the canonical JSON of everything a signature vouches for."""
    payload: dict[str, Any] = {
        "study_id": study_id,
        "accession_number": accession_number,
        "site": site_code,
        "number": number,
        "kind": kind,
        "sections": sections,
        "reason": reason,
        "signer_hpr": signer_hpr,
        "signed_at": signed_at.isoformat(),
        "critical_category": critical_category,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
