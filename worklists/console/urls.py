from django.urls import path

from worklists.console import outlook_views, surge_views, views
from worklists.planner import views as planner_views

urlpatterns = [
    path("console/", views.console_page, name="console"),
    path("console/outlook", outlook_views.outlook_page, name="console-outlook"),
    path("console/outlook/panel", outlook_views.outlook_panel, name="console-outlook-panel"),
    path("console/planner/", planner_views.planner_page, name="console-planner"),
    path(
        "console/alerts/<int:alert_id>/acknowledge",
        views.alert_acknowledge_view,
        name="console-alert-acknowledge",
    ),
    path(
        "console/alerts/<int:alert_id>/snooze", views.alert_snooze_view, name="console-alert-snooze"
    ),
    path(
        "console/studies/<int:study_id>/candidates",
        views.candidates_view,
        name="console-candidates",
    ),
    path(
        "console/studies/<int:study_id>/assign",
        views.console_assign_view,
        name="console-study-assign",
    ),
    path("console/surges", surge_views.surge_start_view, name="console-surge-start"),
    path("console/surges/<int:surge_id>/end", surge_views.surge_end_view, name="console-surge-end"),
]
