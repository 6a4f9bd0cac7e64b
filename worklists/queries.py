"""Hand-written SQL of this app's hot reads, each with a test that it answers as the ORM does
(tests/test_queries.py). Here only where a benchmark showed it at least twice as fast at the
service call: every API read of studies asks who may see which sites first, and the ORM's
three queries for that (each built anew by the ORM on every call) cost more than the read.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model

from worklists import prepared
from worklists.models import AuditEvent, Patient, PatientIdentifier, Site, Study, Subspecialty


@dataclass(frozen=True, slots=True)
class SiteGrants:
    """What lets a user see sites' studies, as stored: membership of the coordinators' group,
    the site they work for, and their radiologist's credentials that are not revoked (of an
    active radiologist), with each credential's site's time zone; validity dates unchecked."""

    coordinator: bool
    member_site_ids: frozenset[int]
    credentials: tuple[tuple[int, dt.date, dt.date | None, str], ...]


# Kinds of grant, the first column of the statement's rows.
_COORDINATOR, _MEMBER, _CREDENTIAL = 0, 1, 2

# Portable SQL (PostgreSQL and SQLite); on PostgreSQL prepared once per connection. Every branch
# is a lookup by user on a unique index (a user's groups, their one membership, their one
# radiologist), so its generic plan holds as the tables grow (see worklists/prepared.py).
_SITE_GRANTS_SQL = f"""
SELECT {_COORDINATOR}, CAST(NULL AS bigint), CAST(NULL AS date), CAST(NULL AS date),
    CAST('' AS varchar(64))
FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
WHERE ug.user_id = %s AND g.name = %s
UNION ALL
SELECT {_MEMBER}, m.site_id, NULL, NULL, ''
FROM worklists_sitemembership m
WHERE m.user_id = %s
UNION ALL
SELECT {_CREDENTIAL}, c.site_id, c.valid_from, c.valid_until, s.time_zone
FROM worklists_credential c
JOIN worklists_radiologist r ON r.id = c.radiologist_id
JOIN worklists_site s ON s.id = c.site_id
WHERE r.user_id = %s AND r.is_active AND c.revoked_at IS NULL
"""  # noqa: S608 - only this module's constants are formatted in, never input


def _date(value: dt.date | str | None) -> dt.date | None:
    # SQLite hands raw SQL's dates back as ISO text
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def site_grants(*, user_id: int, coordinators_group: str) -> SiteGrants:
    """The user's grants of sight of sites, in one statement."""
    coordinator = False
    members: set[int] = set()
    credentials: list[tuple[int, dt.date, dt.date | None, str]] = []
    params = [user_id, coordinators_group, user_id, user_id]
    for kind, site_id, valid_from, valid_until, time_zone in prepared.execute(
        _SITE_GRANTS_SQL, params
    ):
        if kind == _COORDINATOR:
            coordinator = True
        elif kind == _MEMBER:
            members.add(site_id)
        else:
            start = _date(valid_from)
            assert start is not None  # NOT NULL column
            credentials.append((site_id, start, _date(valid_until), time_zone))
    credentials.sort()
    return SiteGrants(
        coordinator=coordinator,
        member_site_ids=frozenset(members),
        credentials=tuple(credentials),
    )


# A study read by one person on PostgreSQL (services.audit.study_read): the study with its
# site, patient and worklist; the patient's identifiers that person may see; and the read's
# audit row, written only if the study is theirs to see. Three statements sent together (one
# round trip) and committed together, each scoped to the reader's sites exactly as
# access.studies_of_sites and access.identifiers_visible scope the ORM's read; ``all_sites``
# for a coordinator (no site filter). Built from the models' own columns once per process.
_READ_MODELS: tuple[type[Model], ...] = (Study, Site, Patient, Subspecialty)
_IN_SCOPE = "s.id = %(study)s AND (%(all_sites)s OR s.site_id = ANY(%(sites)s))"


@functools.cache
def _study_read_sql() -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    columns = ", ".join(
        f"{alias}.{quote(field.column)}"
        for alias, model in zip("stpw", _READ_MODELS, strict=True)
        for field in model._meta.concrete_fields
    )
    study = f"""
SELECT {columns}
FROM {quote(Study._meta.db_table)} s
JOIN {quote(Site._meta.db_table)} t ON t.id = s.site_id
JOIN {quote(Patient._meta.db_table)} p ON p.id = s.patient_id
LEFT JOIN {quote(Subspecialty._meta.db_table)} w ON w.id = s.worklist_id
WHERE {_IN_SCOPE}"""  # noqa: S608 - the models' own names only
    identifier_columns = ", ".join(
        f"i.{quote(field.column)}" for field in PatientIdentifier._meta.concrete_fields
    )
    identifiers = f"""
SELECT {identifier_columns}
FROM {quote(PatientIdentifier._meta.db_table)} i
JOIN {quote(Study._meta.db_table)} s ON s.patient_id = i.patient_id
WHERE {_IN_SCOPE}
  AND (%(all_sites)s OR i.authority = %(national)s OR i.authority IN (
      SELECT code FROM {quote(Site._meta.db_table)} WHERE id = ANY(%(sites)s)))
ORDER BY i.kind, i.id"""  # noqa: S608 - the models' own names only
    audit = f"""
INSERT INTO {quote(AuditEvent._meta.db_table)}
    (at, actor_id, actor_label, action, object_type, object_id, patient_id, site_id, channel,
     remote_addr, path)
SELECT %(at)s::timestamptz, %(actor)s::integer, %(label)s::text, %(action)s::text, 'study',
    s.id::text, s.patient_id, s.site_id, %(channel)s::text, %(addr)s::inet, %(path)s::text
FROM {quote(Study._meta.db_table)} s
WHERE {_IN_SCOPE}"""  # noqa: S608 - the models' own names only
    return study, identifiers, audit


@dataclass(frozen=True, slots=True)
class AuditedRead:
    """Who reads, as the audit row records them (services.audit.AccessContext's fields)."""

    user_id: int | None
    actor_label: str
    channel: str
    remote_addr: str | None
    path: str
    action: str


def study_read_audited(
    *, study_id: int, site_ids: set[int] | None, read: AuditedRead, at: dt.datetime
) -> tuple[Study, list[PatientIdentifier]] | None:
    """PostgreSQL only. The study (its site, patient and worklist loaded) and the identifiers
    the reader may see, the read audited; None, and nothing written, when the study is not
    the reader's to see. One round trip."""
    params = {
        "study": study_id,
        "all_sites": site_ids is None,
        "sites": sorted(site_ids or ()),
        "national": PatientIdentifier.NATIONAL_AUTHORITY,
        "at": at,
        "actor": read.user_id,
        "label": read.actor_label,
        "action": read.action,
        "channel": read.channel,
        "addr": read.remote_addr,
        "path": read.path,
    }
    study_sql, identifiers_sql, audit_sql = _study_read_sql()
    rows, identifier_rows, _audited = prepared.execute_together(
        [
            prepared.Statement(study_sql, params, prepare=True),
            prepared.Statement(identifiers_sql, params, prepare=True),
            prepared.Statement(audit_sql, params, prepare=True),
        ]
    )
    if not rows:
        return None
    return _study_from_row(rows[0]), [
        PatientIdentifier.from_db(connection.alias, _attnames(PatientIdentifier), row)
        for row in identifier_rows
    ]


@functools.cache
def _attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def _study_from_row(row: Sequence[Any]) -> Study:
    """The row's study with its site, patient and worklist (None: unclassified) set as
    select_related sets them."""
    instances: list[Model | None] = []
    start = 0
    for model in _READ_MODELS:
        end = start + len(model._meta.concrete_fields)
        values = row[start:end]
        if values[0] is None:  # no worklist (unclassified): the LEFT JOIN's NULLs
            instances.append(None)
        else:
            instances.append(model.from_db(connection.alias, _attnames(model), values))
        start = end
    study, site, patient, worklist = instances
    assert isinstance(study, Study)
    for name, related in (("site", site), ("patient", patient), ("worklist", worklist)):
        Study._meta.get_field(name).set_cached_value(study, related)  # type: ignore[union-attr]
    return study
