from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorklistsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "worklists"
    verbose_name = _("Worklists")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.backends.signals import connection_created

        from teleradiology.filemodes import restrict_sqlite_files
        from worklists import locale  # noqa: F401  (connects the login signal that reads the language)
        from worklists.receivers import reader_signed_in

        connection_created.connect(restrict_sqlite_files, dispatch_uid="restrict_sqlite_files")
        user_logged_in.connect(reader_signed_in, dispatch_uid="worklists.reader_signed_in")
