"""Hand-written SQL of this app's hot reads, each with a test that it answers as the ORM does
(tests/test_queries.py). Here only where a benchmark showed it at least twice as fast at the
service call: every API read of studies asks who may see which sites first, and the ORM's
three queries for that (each built anew by the ORM on every call) cost more than the read.

The claim below is PostgreSQL's, with an ORM path beside it (SQLite's). ``ORM_INSTEAD`` names
statements to run through the ORM on PostgreSQL too: the tests that the two give the same rows
and effects (tests/test_queries_against_orm.py) and the benchmark that measures them
(benchmarks/bench_queries.py) set it; nothing else should.

Measured here (PostgreSQL 15, 2 shared cores; bench_queries with 100 readers on shift and 4,000
unread studies, alternating rounds; time per service call, median of rounds):

- ``claim`` ("read next", study_claim_next): SQL 15 ms, ORM 773 ms per claim, ratio 52. The ORM
  path reads every free study in the reader's scope into Python to pick one; the statement
  follows the index of ready studies in reading order, skips locked rows and claims in place.

The loads of a push decision (study_route) had a statement here too, measured at first at 13 ms
against the ORM's 32 ms per push; on a quiet machine (make bench, 2026-12-03) it took 40-54 ms
against the ORM's 29-39 ms, below the two-times rule, so it went back to the ORM
(worklists.services.routing_loads.reader_loads).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model

from worklists import prepared, routing
from worklists.models import (
    AuditEvent,
    LowValueRule,
    Patient,
    PatientIdentifier,
    RoutingDecision,
    Site,
    Study,
    Worklist,
)

# Names of statements whose ORM path runs even on PostgreSQL (tests and benchmarks only): "claim"
# here, "dicom_fast_path" (dicom.queries, which runs on SQLite too).
ORM_INSTEAD: set[str] = set()


def commit_without_flush() -> None:
    """This transaction's commit does not wait for its WAL flush (PostgreSQL's
    ``synchronous_commit = off`` for this transaction; see
    worklists.services.inbound.inbound_store_and_find_applied). A setting, not a query: the
    ORM cannot express it. Nothing elsewhere: SQLite has no such setting."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def hand_written(statement: str) -> bool:
    """Whether ``statement``'s hand-written SQL runs here: on PostgreSQL, unless switched off."""
    return connection.vendor == "postgresql" and statement not in ORM_INSTEAD


# Advisory lock namespace (first key) for "a reader is claiming this patient's studies".
PATIENT_LOCK_CLASS = 72010

READ_NEXT_RULE = (
    "first in reading order among the studies in the own queue and the free ones in scope"
)
QUEUE_TRIGGER = "read next: own queue"
assert "'" not in READ_NEXT_RULE + RoutingDecision.READ_NEXT + QUEUE_TRIGGER  # SQL literals

# "Read next". One reading order for everything the reader may read: ``held`` is the first study
# in their own queue (pushed or given to them, not yet opened); a free study is claimed only if
# it comes strictly before that one in reading order, so a queued STAT is never passed over for a
# routine pool study. Which (worklist, site) pairs the reader may take, and from which escalation
# tier, is the reader's pull scope (worklists.routing.reader_scope, as on SQLite), passed as
# arrays; a study is taken at its effective tier: its own escalation tier, or the tier a
# coordinator's surge running now raised its worklist to (``surge``, read in the statement: a
# surge starts, ends or runs out at once, with no cache to wait for). The scope may come from
# the process's cache: the statement decides nothing unless the reader's facts (shifts,
# competences, credentials, active) are unchanged since it was built, by the count database
# triggers keep (ReaderFactsVersion); the clock's changes (a shift ending, a
# credential's last day) end the cached scope before they happen (PullScope.valid_until). When the
# queue's study wins, the decision is stored as a routing decision and the study is returned as
# it is (it is the reader's already); otherwise the claim's event carries the decision.
# (scalar subqueries of the one-row ``surge``: computed once per statement, and the walk of the
# ready studies in reading order keeps its plan)
_EFFECTIVE_TIER = """GREATEST(s.escalation_tier, (SELECT every FROM surge),
    CASE WHEN s.worklist_id = ANY((SELECT pool FROM surge)::bigint[]) THEN 2
         WHEN s.worklist_id = ANY((SELECT backup FROM surge)::bigint[]) THEN 1 ELSE 0 END)"""
# A study that keeps this reader (or their site's readers) off itself, or is reserved for
# other readers (ReadRestriction: double reading's second read and arbitration), is not theirs
# to take; only flagged studies look.
_NOT_RESTRICTED = """(NOT s.has_read_restrictions OR (
        NOT EXISTS (SELECT 1 FROM worklists_readrestriction x WHERE x.study_id = s.id
            AND x.kind = 'EXCLUDE' AND (x.radiologist_id = %(rid)s OR x.site_id IN (
                SELECT m.site_id FROM worklists_sitemembership m
                JOIN worklists_radiologist r ON r.user_id = m.user_id WHERE r.id = %(rid)s)))
        AND (NOT EXISTS (SELECT 1 FROM worklists_readrestriction x WHERE x.study_id = s.id
                 AND x.kind = 'RESERVE')
             OR EXISTS (SELECT 1 FROM worklists_readrestriction x WHERE x.study_id = s.id
                 AND x.kind = 'RESERVE' AND x.radiologist_id = %(rid)s))))"""
# Only a study that comes before the reader's first task (a peer review: worklists.routing,
# comes_before_task) is given; with no task the bound is a rank no study has. A row comparison
# the index of ready studies in reading order answers (a study without a deadline compares as
# unknown at the task's rank: not before it, as the rule says).
_BEFORE_TASK = (
    """(s.routing_rank, s.deadline) <= (%(task_rank)s::smallint, %(task_deadline)s::timestamptz)"""
)
NO_TASK_RANK = 32767
# The position of the row that says the statement decided nothing: the reader's facts changed
# since their scope was built.
STALE_FACTS = -2
_CLAIM_SQL = f"""
WITH current AS (
    SELECT (SELECT coalesce(max(v.version), 0) FROM worklists_readerfactsversion v
            WHERE v.radiologist_id = %(rid)s) = %(facts_version)s AS ok
), surge AS (
    -- The surges running now (worklists.services.surges.running): the tier every worklist's
    -- studies are raised to, and the worklists raised to tier 1 and to tier 2.
    SELECT coalesce(max(g.tier) FILTER (WHERE g.worklist_id IS NULL), 0) AS every,
        coalesce(array_agg(g.worklist_id) FILTER (WHERE g.worklist_id IS NOT NULL AND g.tier = 1),
            '{{}}') AS backup,
        coalesce(array_agg(g.worklist_id) FILTER (WHERE g.worklist_id IS NOT NULL AND g.tier >= 2),
            '{{}}') AS pool
    FROM worklists_surge g
    WHERE g.ended_at IS NULL AND g.ends_at > %(now)s
), held AS (
    SELECT s.id, s.site_id, s.routing_rank, s.deadline, s.escalation_tier
    FROM worklists_assignment a JOIN worklists_study s ON s.id = a.study_id
    WHERE a.radiologist_id = %(rid)s AND a.ended_at IS NULL AND s.status = 'ASSIGNED'
      AND {_BEFORE_TASK}
    ORDER BY s.routing_rank, s.deadline, s.id
    LIMIT 1
), first AS (
    SELECT s.id, s.patient_id FROM worklists_study s
    WHERE s.status = 'READY' AND %(any_scope)s AND (SELECT ok FROM current)
      AND {_BEFORE_TASK}
      AND (NOT EXISTS (SELECT 1 FROM held)
           OR (s.routing_rank, s.deadline, s.id)
              < (SELECT h.routing_rank, coalesce(h.deadline, 'infinity'::timestamptz), h.id
                 FROM held h))
      -- CASE fixes the order: only a study the reader may take (its modality; its worklist,
      -- site and escalation tier among the reader's) tries the patient's advisory lock, which
      -- keeps other readers off this patient's studies until this statement ends, so the
      -- bundle below gets them all.
      AND CASE WHEN s.modality = ANY(%(modalities)s::text[])
               AND s.worklist_id * 4294967296 + s.site_id = ANY(CASE LEAST({_EFFECTIVE_TIER}, 2)
                   WHEN 0 THEN %(k0)s::bigint[]
                   WHEN 1 THEN coalesce(%(k1)s::bigint[], %(k0)s::bigint[])
                   ELSE coalesce(%(k2)s::bigint[], %(k1)s::bigint[], %(k0)s::bigint[]) END)
               AND {_NOT_RESTRICTED}
          THEN pg_try_advisory_xact_lock({PATIENT_LOCK_CLASS}, (s.patient_id %% 2147483647)::int)
          ELSE false END
    ORDER BY s.routing_rank, s.deadline, s.id
    LIMIT 1
    FOR UPDATE OF s SKIP LOCKED
), bundle AS (
    SELECT s.id FROM worklists_study s JOIN first f ON s.patient_id = f.patient_id
    WHERE s.id <> f.id AND s.status = 'READY' AND s.modality = ANY(%(modalities)s::text[])
      AND s.worklist_id * 4294967296 + s.site_id = ANY(CASE LEAST({_EFFECTIVE_TIER}, 2)
          WHEN 0 THEN %(k0)s::bigint[]
          WHEN 1 THEN coalesce(%(k1)s::bigint[], %(k0)s::bigint[])
          ELSE coalesce(%(k2)s::bigint[], %(k1)s::bigint[], %(k0)s::bigint[]) END)
      AND {_NOT_RESTRICTED}
    FOR UPDATE OF s SKIP LOCKED
), picked AS (
    SELECT id, 0 AS pos FROM first UNION ALL SELECT id, 1 AS pos FROM bundle
), claimed AS (
    UPDATE worklists_study s
    SET status = 'ASSIGNED', status_changed_at = %(now)s, updated_at = %(now)s
    FROM picked p
    WHERE s.id = p.id AND s.status = 'READY'
    RETURNING s.id, s.site_id, {_EFFECTIVE_TIER} AS tier, p.pos
), assigned AS (
    INSERT INTO worklists_assignment
        (study_id, radiologist_id, kind, assigned_at, assigned_by_id, reason, last_activity_at,
         end_reason)
    SELECT id, %(rid)s::bigint, 'PULL', %(now)s::timestamptz, %(uid)s::bigint, '',
        %(now)s::timestamptz, ''
    FROM claimed
), evented AS (
    INSERT INTO worklists_studyevent
        (study_id, from_status, to_status, actor_id, actor_label, at, reason, data)
    SELECT id, 'READY', 'ASSIGNED', %(uid)s::bigint, %(label)s::text, %(now)s::timestamptz,
        CASE WHEN pos = 0 THEN 'read next' ELSE 'read next: same patient' END,
        jsonb_build_object('decision', '{RoutingDecision.READ_NEXT}', 'radiologist_id',
            %(rid)s::bigint, 'kind', 'PULL', 'tier', tier, 'bundled', pos = 1,
            'rule', '{READ_NEXT_RULE}'::text)
    FROM claimed
), from_queue AS (
    INSERT INTO worklists_routingdecision
        (study_id, decided_at, mode, trigger, tier, radiologist_id, trace)
    SELECT h.id, %(now)s::timestamptz, 'PULL', '{QUEUE_TRIGGER}', h.escalation_tier,
        %(rid)s::bigint, jsonb_build_object('chosen', %(rid)s::bigint, 'source', 'queue',
            'rule', '{READ_NEXT_RULE}'::text)
    FROM held h
    WHERE (SELECT ok FROM current) AND NOT EXISTS (SELECT 1 FROM claimed)
    RETURNING study_id
), active AS (
    UPDATE worklists_radiologist SET last_active_at = %(now)s
    WHERE id = %(rid)s AND (last_active_at IS NULL OR last_active_at < %(active_before)s)
)
SELECT id, site_id, pos FROM claimed
UNION ALL
SELECT h.id, h.site_id, -1 FROM held h JOIN from_queue q ON q.study_id = h.id
UNION ALL
SELECT 0, 0, {STALE_FACTS} WHERE NOT (SELECT ok FROM current)
ORDER BY 3, 1
"""  # noqa: S608 - only this module's constants are formatted in, never input


# A (worklist, site) pair as one number for the claim statement: site ids stay below 2**32.
PAIR_KEY_FACTOR = 4294967296


def pair_key(worklist_id: int, site_id: int) -> int:
    if not 0 <= site_id < PAIR_KEY_FACTOR:
        raise ValueError(f"site id {site_id} out of range for a pair key")
    return worklist_id * PAIR_KEY_FACTOR + site_id


@functools.lru_cache(maxsize=4096)
def scope_arrays(scope: routing.Scope) -> dict[str, str | None]:
    """The scope as array literals for the claim statement: ``k0``, ``k1``, ``k2`` hold the
    (worklist, site) pairs a study at escalation tier 0, 1 and 2 or above may come from (each
    tier adds its pairs to the ones below), as pair keys. Memoised, and as literals so that a
    claim does not convert hundreds of numbers; a short array tested with ``= ANY`` costs less
    per claim than a hashed subquery over (worklist, site, tier) triples."""

    def literal(values: Iterable[object]) -> str:
        return "{" + ",".join(str(v) for v in values) + "}"

    arrays: dict[str, str | None] = {}
    allowed: set[routing.Pair] = set()
    below = None
    for tier in (routing.TIER_PRIMARY, routing.TIER_BACKUP, routing.TIER_POOL):
        allowed |= scope.pairs_by_tier[tier]
        keys = literal(sorted(pair_key(w, s) for w, s in allowed))
        # a tier that adds nothing goes as NULL, and the statement takes the tier below: most
        # readers' tiers are all alike, and every array sent is parsed again on every claim
        arrays[f"k{tier}"] = None if keys == below else keys
        below = keys
    # modality codes are from Modality (letters only): no quoting needed
    arrays["modalities"] = literal(sorted(scope.modalities))
    return arrays


def claim_next(params: dict[str, Any]) -> list[tuple[int, int, int]]:
    """Run the claim statement: (study id, site id, position) of each study claimed (0 the
    first, 1 its bundle), or of the queue's study picked (-1); [] for nothing; one row at
    STALE_FACTS when it decided nothing because the reader's facts changed. Prepared:
    planning this statement costs more than twice running it."""
    return [(row[0], row[1], row[2]) for row in prepared.execute(_CLAIM_SQL, params)]


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
# site, patient, worklist and low-value rule; the patient's identifiers that person may see;
# and the read's audit row, written only if the study is theirs to see. Three statements sent
# together (one round trip) and committed together, each scoped to the reader's sites exactly
# as access.studies_of_sites and access.identifiers_visible scope the ORM's read;
# ``all_sites`` for a coordinator (no site filter). Built from the models' own columns once per
# process.
_READ_MODELS: tuple[type[Model], ...] = (Study, Site, Patient, Worklist, LowValueRule)
_IN_SCOPE = "s.id = %(study)s AND (%(all_sites)s OR s.site_id = ANY(%(sites)s))"


@functools.cache
def _study_read_sql() -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    columns = ", ".join(
        f"{alias}.{quote(field.column)}"
        for alias, model in zip("stpwr", _READ_MODELS, strict=True)
        for field in model._meta.concrete_fields
    )
    study = f"""
SELECT {columns}
FROM {quote(Study._meta.db_table)} s
JOIN {quote(Site._meta.db_table)} t ON t.id = s.site_id
JOIN {quote(Patient._meta.db_table)} p ON p.id = s.patient_id
LEFT JOIN {quote(Worklist._meta.db_table)} w ON w.id = s.worklist_id
LEFT JOIN {quote(LowValueRule._meta.db_table)} r ON r.id = s.low_value_rule_id
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
    """PostgreSQL only. The study (its site, patient, worklist and low-value rule loaded) and
    the identifiers the reader may see, the read audited; None, and nothing written, when the
    study is not the reader's to see. One round trip."""
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
    """The row's study with its site, patient, worklist (None: unclassified) and low-value rule
    (None: not flagged) set as select_related sets them."""
    instances: list[Model | None] = []
    start = 0
    for model in _READ_MODELS:
        end = start + len(model._meta.concrete_fields)
        values = row[start:end]
        if values[0] is None:  # no worklist (unclassified), no flag: the LEFT JOINs' NULLs
            instances.append(None)
        else:
            instances.append(model.from_db(connection.alias, _attnames(model), values))
        start = end
    study, site, patient, worklist, rule = instances
    assert isinstance(study, Study)
    for name, related in (
        ("site", site),
        ("patient", patient),
        ("worklist", worklist),
        ("low_value_rule", rule),
    ):
        Study._meta.get_field(name).set_cached_value(study, related)  # type: ignore[union-attr]
    return study
