from worklists.models import Subspecialty


def test_the_general_worklist_exists_after_migrations(db):
    assert Subspecialty.objects.filter(is_general=True).count() == 1
