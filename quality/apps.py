from django.apps import AppConfig


class QualityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # Neither the core nor reports knows this app: it listens for signed finals (reports'
        # hook), puts open reviews in their reviewer's reading order and on the reading page
        # (the core's and reports' hooks), adds its figures to the indicators (their hook), and
        # seeds a policy and reviews as a demo step of its own.
        from indicators.sections import register_section
        from quality.demo import seed_quality_demo
        from quality.indicators_section import SECTION
        from quality.listeners import final_signed
        from quality.reading_order import (
            KIND,
            review_on_reading_page,
            reviews_changed,
            reviews_in_reading_order,
        )
        from quality.views import worklist_reviews_panel
        from quality.withholding import blind_review_withholds, blind_reviews_withhold
        from reports.hooks import register_final_signed, register_reading_task
        from worklists.demo.extensions import register_demo_step
        from worklists.hooks import (
            WorklistPanel,
            register_changed_studies,
            register_reading_order_tasks,
            register_studies_withholding,
            register_study_withholding,
            register_worklist_panel,
        )

        register_final_signed("peer-review", final_signed)
        # A reader's reviews are in their reading order, and open on the reading page.
        register_reading_order_tasks(KIND, reviews_in_reading_order)
        register_reading_task(KIND, review_on_reading_page)
        register_changed_studies(KIND, reviews_changed)  # a reconnecting page refetches its row
        # A blind reviewer reads the study in their review only, until they have scored it;
        # as a prior of another study, its report and signer are hidden.
        register_study_withholding("blind-peer-review", blind_review_withholds)
        register_studies_withholding("blind-peer-review", blind_reviews_withhold)
        register_worklist_panel(WorklistPanel(name="peer-review", render=worklist_reviews_panel))
        register_demo_step(seed_quality_demo)
        # The figures of peer review are a section of the indicators page, CSV and API.
        register_section(SECTION)
