from django.apps import AppConfig


class WorklistsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "worklists"
    verbose_name = "Worklists"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from worklists.receivers import reader_signed_in

        user_logged_in.connect(reader_signed_in, dispatch_uid="worklists.reader_signed_in")
