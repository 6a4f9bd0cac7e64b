from worklists.models import Worklist


def test_the_general_worklist_exists_after_migrations(db):
    assert Worklist.objects.filter(is_general=True).count() == 1
