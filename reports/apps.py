from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        # The core knows no adapter: this app adds its templates, macros and the reports of
        # the demo's read studies as a demo step of its own, and the report to the study page.
        from reports.demo import seed_reports_demo
        from reports.demo.double_reading import seed_double_reading_demo
        from reports.panels import study_double_reading_panel, study_report_panel
        from reports.portal.home import portal_home_page
        from worklists.demo.extensions import register_demo_step
        from worklists.hooks import (
            PanelSlot,
            StudyPanel,
            register_home_page,
            register_study_panel,
        )

        register_demo_step(seed_reports_demo)
        register_demo_step(seed_double_reading_demo)
        register_study_panel(
            StudyPanel(name="report", slot=PanelSlot.AFTER_HISTORY, render=study_report_panel)
        )
        register_study_panel(
            StudyPanel(
                name="double-reading",
                slot=PanelSlot.AFTER_HISTORY,
                render=study_double_reading_panel,
            )
        )
        # A site's staff land on their site's portal after signing in.
        register_home_page("site-portal", portal_home_page)
