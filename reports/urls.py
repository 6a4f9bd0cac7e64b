from django.urls import path

from reports import views

urlpatterns = [
    path("read/next", views.reading_next, name="reading-next"),
    path("studies/<int:study_id>/read/", views.reading_page, name="reading"),
    path(
        "studies/<int:study_id>/read/preliminary",
        views.reading_preliminary,
        name="reading-preliminary",
    ),
    path("studies/<int:study_id>/read/sign", views.reading_sign, name="reading-sign"),
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
]
