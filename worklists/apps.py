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
        from worklists.services.pushes import PushTasks, install_push_tasks
        from worklists.tasks import reader_fill_queue_task, route_study_task

        connection_created.connect(restrict_sqlite_files, dispatch_uid="restrict_sqlite_files")
        user_logged_in.connect(reader_signed_in, dispatch_uid="worklists.reader_signed_in")
        # The services ask for pushes without importing the tasks that call them (a cycle).
        install_push_tasks(
            PushTasks(route_study=route_study_task, fill_queue=reader_fill_queue_task)
        )
