"""Hot-path statements: several sent together, each answered with its own rows."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

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
def test_statements_sent_together_outside_a_transaction_commit_together_or_not_at_all():
    taken = Patient.objects.create(family_name="Aas").id

    with pytest.raises(IntegrityError):
        prepared.execute_together(
            [
                _insert("Berg"),
                prepared.Statement(
                    f"UPDATE {TABLE} SET id = %s WHERE family_name = 'Berg'",  # noqa: S608
                    [taken],
                ),
            ]
        )
    [(berg,)] = prepared.execute_together([_insert("Berg")])

    # Nothing of the failed pair was kept; the connection is usable, out of any transaction.
    assert list(Patient.objects.order_by("id").values_list("family_name", flat=True)) == [
        "Aas",
        "Berg",
    ]
    assert Patient.objects.get(id=berg[0]).family_name == "Berg"
    assert not connection.in_atomic_block
    assert prepared.execute_together([]) == []


@pytest.mark.django_db(transaction=True)
def test_a_statement_after_a_reconnect_runs_on_the_new_connection():
    assert prepared.execute("SELECT %s", [1]) == [(1,)]
    connection.close()

    assert prepared.execute("SELECT %s", [2]) == [(2,)]


@pytest.mark.django_db(transaction=True)
def test_a_failed_statement_leaves_the_next_one_working():
    with pytest.raises(DatabaseError):
        prepared.execute("SELECT * FROM no_such_table WHERE id = %s", [1])

    assert prepared.execute("SELECT %s", [3]) == [(3,)]
    assert prepared.execute(f"UPDATE {TABLE} SET given_name = 'x' WHERE id < 0", []) == []  # noqa: S608
