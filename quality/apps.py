from django.apps import AppConfig


class QualityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # Neither the core nor reports knows this app: it listens for signed finals (reports'
        # hook), shows open reviews on the worklist page and waiting ones on the console (the
        # core's hooks), and seeds a policy and reviews as a demo step of its own.
        from quality.listeners import final_signed
        from reports.hooks import register_final_signed

        register_final_signed("peer-review", final_signed)
