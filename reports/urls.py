from django.urls import URLPattern, URLResolver, include, path

from reports import macro_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("read/next", views.reading_next, name="reading-next"),
    path("studies/<int:study_id>/read/", views.reading_page, name="reading"),
    # A reader's task about the study (a peer review: reports.hooks.register_reading_task).
    path(
        "studies/<int:study_id>/read/<slug:kind>/<int:task_id>/",
        views.reading_task_page,
        name="reading-task",
    ),
    path(
        "studies/<int:study_id>/read/preliminary",
        views.reading_preliminary,
        name="reading-preliminary",
    ),
    path("studies/<int:study_id>/read/sign", views.reading_sign, name="reading-sign"),
    path(
        "studies/<int:study_id>/read/sign-read", views.reading_sign_read, name="reading-sign-read"
    ),
    path("studies/<int:study_id>/read/addendum", views.reading_addendum, name="reading-addendum"),
    path(
        "studies/<int:study_id>/read/correction",
        views.reading_correction,
        name="reading-correction",
    ),
    path(
        "studies/<int:study_id>/read/communication",
        views.reading_communication,
        name="reading-communication",
    ),
    path("studies/<int:study_id>/read/reject", views.reading_reject, name="reading-reject"),
    path("macros/", macro_views.macro_list, name="macros"),
    path("macros/new", macro_views.macro_new, name="macro-new"),
    path("macros/<int:macro_id>/edit", macro_views.macro_edit, name="macro-edit"),
    path("macros/<int:macro_id>/delete", macro_views.macro_remove, name="macro-delete"),
    path("", include("reports.portal.urls")),
]
