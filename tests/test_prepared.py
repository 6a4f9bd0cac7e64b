"""Hot-path statements: several sent together, each answered with its own rows."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from tests.db_support import require_postgresql
from worklists import prepared
from worklists.models import Patient

TABLE = Patient._meta.db_table


def _insert(family_name: str) -> prepared.Statement:
    return prepared.Statement(
        f"INSERT INTO {TABLE} (family_name, given_name, sex, created_at, updated_at) "  # noqa: S608
        "VALUES (%s, '', 'U', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id",
        [family_name],
    )


@pytest.mark.django_db
def test_statements_sent_together_answer_each_with_its_own_rows():
    with transaction.atomic():
        first, nothing, second = prepared.execute_together(
            [
                _insert("Aas"),
                prepared.Statement(f"UPDATE {TABLE} SET given_name = 'x' WHERE id < 0"),  # noqa: S608
                _insert("Berg"),
            ]
        )

    assert nothing == []
    assert Patient.objects.get(id=first[0][0]).family_name == "Aas"
    assert Patient.objects.get(id=second[0][0]).family_name == "Berg"


@pytest.mark.django_db
def test_a_failing_statement_sent_together_fails_the_callers_transaction():
    taken = Patient.objects.create(family_name="Aas").id

    with pytest.raises(IntegrityError), transaction.atomic():
        prepared.execute_together(
            [
                _insert("Berg"),
                prepared.Statement(
                    f"INSERT INTO {TABLE} (id, family_name, given_name, sex, created_at, "  # noqa: S608
                    "updated_at) VALUES (%s, 'Dup', '', 'U', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                    [taken],
                ),
            ]
        )

    assert list(Patient.objects.values_list("family_name", flat=True)) == ["Aas"]


@pytest.mark.django_db(transaction=True)
def test_a_transaction_the_statements_open_themselves_is_rolled_back_when_one_fails():
    require_postgresql("explicit BEGIN and COMMIT sent together are used on PostgreSQL")
    taken = Patient.objects.create(family_name="Aas").id

    with pytest.raises(IntegrityError):
        prepared.execute_together(
            [
                prepared.Statement("BEGIN"),
                _insert("Berg"),
                prepared.Statement(
                    f"UPDATE {TABLE} SET id = %s WHERE family_name = 'Berg'",  # noqa: S608
                    [taken],
                ),
                prepared.Statement("COMMIT"),
            ]
        )

    # Nothing half-done is committed, and the connection is usable, out of any transaction.
    assert list(Patient.objects.values_list("family_name", flat=True)) == ["Aas"]
    assert connection.connection.info.transaction_status == 0  # IDLE
