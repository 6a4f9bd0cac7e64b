from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        # The core's demo knows no adapter: this app adds its templates, macros and the
        # reports of the demo's read studies as a step of its own.
        from reports.demo import seed_reports_demo
        from worklists.demo.extensions import register_demo_step

        register_demo_step(seed_reports_demo)
