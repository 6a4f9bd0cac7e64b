from django.apps import AppConfig


class QualityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # Neither the core nor reports knows this app: it listens for signed finals (reports'
        # hook), shows open reviews on the worklist page and waiting ones on the console (the
        # core's hooks), adds its figures to the indicators (their hook), and seeds a policy
        # and reviews as a demo step of its own.
        from indicators.sections import register_section
        from quality.demo import seed_quality_demo
        from quality.indicators_section import SECTION
        from quality.listeners import final_signed
        from quality.views import worklist_reviews_panel
        from quality.withholding import blind_review_withholds
        from reports.hooks import register_final_signed
        from worklists.demo.extensions import register_demo_step
        from worklists.hooks import (
            WorklistPanel,
            register_study_withholding,
            register_worklist_panel,
        )

        register_final_signed("peer-review", final_signed)
        # A blind reviewer reads the study in their review only, until they have scored it.
        register_study_withholding("blind-peer-review", blind_review_withholds)
        register_worklist_panel(WorklistPanel(name="peer-review", render=worklist_reviews_panel))
        register_demo_step(seed_quality_demo)
        # The figures of peer review are a section of the indicators page, CSV and API.
        register_section(SECTION)
