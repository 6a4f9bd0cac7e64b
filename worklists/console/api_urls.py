from django.urls import path

from worklists.console import api, outlook_api, surge_api

urlpatterns = [
    path("console/backlog", api.ConsoleBacklogApi.as_view(), name="api-console-backlog"),
    path("console/load", api.ConsoleLoadApi.as_view(), name="api-console-load"),
    path("console/alerts", api.ConsoleAlertsApi.as_view(), name="api-console-alerts"),
    path("console/outlook", outlook_api.ConsoleOutlookApi.as_view(), name="api-console-outlook"),
    path(
        "console/alerts/<int:alert_id>/acknowledge",
        api.ConsoleAlertAcknowledgeApi.as_view(),
        name="api-console-alert-acknowledge",
    ),
    path(
        "console/alerts/<int:alert_id>/snooze",
        api.ConsoleAlertSnoozeApi.as_view(),
        name="api-console-alert-snooze",
    ),
    path(
        "studies/<int:study_id>/candidates",
        api.StudyCandidatesApi.as_view(),
        name="api-study-candidates",
    ),
    path("console/surges", surge_api.ConsoleSurgesApi.as_view(), name="api-console-surges"),
    path(
        "console/surges/<int:surge_id>/end",
        surge_api.ConsoleSurgeEndApi.as_view(),
        name="api-console-surge-end",
    ),
]
