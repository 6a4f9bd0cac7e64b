"""Hand-written SQL against the ORM, each statement at the service call that runs it.

For every statement in a ``queries`` module, the service is timed with the statement's SQL and
with its ORM path (``queries.ORM_INSTEAD``), in alternating rounds so that a change in the
machine's load falls on both; ``<statement>_orm_over_sql`` is the median of the rounds' ratios
of the ORM's time per call to the SQL's (>= 2: the SQL earns its place). PostgreSQL only (the
SQL is PostgreSQL's). Sizes: the routing section's (BENCH_RADIOLOGISTS, BENCH_UNREAD), and
BENCH_QUERY_CALLS calls per round, BENCH_QUERY_ROUNDS rounds.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Callable

from django.db import connection

from benchmarks.bench_routing import broad_readers, open_for_reading, populate, reset_claims
from dicom.metadata import InstanceMeta
from dicom.services.associations import SiteContext
from dicom.services.instances import ReceiveOutcome, instance_receive
from worklists import queries
from worklists.actors import Actor
from worklists.models import (
    Site,
    Worklist,
)
from worklists.services.claims import study_claim_next
from worklists.services.routing import forget_coverage_cache

CALLS = int(os.environ.get("BENCH_QUERY_CALLS", "100"))
ROUNDS = int(os.environ.get("BENCH_QUERY_ROUNDS", "5"))
WARM_UP = 6  # a prepared statement's first five runs on a connection are planned afresh


def _per_call_ms(call: Callable[[], object], calls: int) -> float:
    for _ in range(WARM_UP):
        call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) * 1000 / calls


def compare(
    name: str,
    statements: set[str],
    call: Callable[[], object],
    reset: Callable[[], None],
) -> dict[str, float]:
    """Time ``call`` with ``statements`` as SQL, then through the ORM, ROUNDS times."""
    sql_ms: list[float] = []
    orm_ms: list[float] = []
    for _ in range(ROUNDS):
        for orm, samples in ((False, sql_ms), (True, orm_ms)):
            reset()
            queries.ORM_INSTEAD = set(statements) if orm else set()
            try:
                samples.append(_per_call_ms(call, CALLS))
            finally:
                queries.ORM_INSTEAD = set()
    reset()
    ratios = [o / s for o, s in zip(orm_ms, sql_ms, strict=True)]
    print(f"  {name}: sql {sql_ms} orm {orm_ms}", flush=True)
    return {
        f"{name}_sql_ms": statistics.median(sql_ms),
        f"{name}_orm_ms": statistics.median(orm_ms),
        f"{name}_orm_over_sql": statistics.median(ratios),
    }


def routing_statements(rng: random.Random) -> dict[str, float]:
    forget_coverage_cache()
    _readers, sites, worklists = populate(rng, prefix="rq", hpr_base=8500000)
    figures: dict[str, float] = {}
    [claimer] = broad_readers(1, "bq-claim", sites, worklists, hpr_base=7200000)
    actor = Actor(user_id=claimer.user_id, label="bench")

    def claim() -> object:
        claimed = study_claim_next(radiologist_id=claimer.id, actor=actor)
        if claimed is not None:
            open_for_reading(claimed.study_ids)
        return claimed

    figures.update(compare("claim", {"claim"}, claim, reset_claims))
    return figures


def dicom_instances(rng: random.Random) -> dict[str, float]:
    """Instances of a known series of a known study (the fast path's case), one per call
    (instance_receive, as the receiver calls it for each instance): the study lock, the image
    state, the instance and the counts ("dicom_fast_path")."""
    site = Site.objects.create(code="bq-dcm", name="DICOM spørjing", hl7_sending_facility="BQDCM")
    Worklist.objects.get_or_create(is_general=True, defaults={"code": "general", "name": "General"})
    context = SiteContext(
        site_id=site.id, site_code=site.code, calling_ae_title="BQMOD", peer_address="127.0.0.1"
    )
    studies = iter(range(10**9))
    instances = iter(range(10**9))
    series: list[tuple[str, str, str]] = []

    def new_study() -> None:
        n = next(studies)
        series.append(
            (f"BQDCM{n}", f"1.2.826.0.1.3680043.10.9.{n}", f"1.2.826.0.1.3680043.10.9.{n}.1")
        )
        call()  # the first instance makes the study and its series (the ORM path)

    def call() -> object:
        accession, study_uid, series_uid = series[-1]
        meta = InstanceMeta(
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            sop_instance_uid=f"{series_uid}.{next(instances)}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            accession_number=accession,
            modality="CT",
            patient_id="BQ1",
            issuer_of_patient_id="BQ",
            family_name="Spørje",
            given_name="Kari",
            birth_date=dt.date(1960, 1, 1),
            sex="F",
            study_date=None,
            study_time=None,
            study_description="CT caput",
            series_description="Aksial",
            series_number=1,
            body_part="HEAD",
            institution="Spørjesjukehus",
            procedure_codes=(),
            modalities_in_study=("CT",),
        )
        result = instance_receive(context=context, meta=meta)
        assert result.outcome == ReceiveOutcome.STORED, result
        return result

    return compare("dicom_instance", {"dicom_fast_path"}, call, new_study)


GROUPS: dict[str, Callable[[random.Random], dict[str, float]]] = {
    "routing": routing_statements,
    "dicom": dicom_instances,
}


def run(rng: random.Random) -> dict[str, float]:
    """The groups named in BENCH_QUERY_ONLY (comma-separated), or all of them."""
    if connection.vendor != "postgresql":
        return {}
    only = set(filter(None, os.environ.get("BENCH_QUERY_ONLY", "").split(",")))
    figures: dict[str, float] = {}
    for name, group in GROUPS.items():
        if not only or name in only:
            figures.update(group(rng))
    return figures
