from django.urls import path

from reports.portal import views

urlpatterns = [
    path("site/", views.portal_page, name="site-portal"),
    path("site/studies.csv", views.portal_csv, name="site-portal-csv"),
    path("site/studies/<int:study_id>/", views.portal_report, name="site-portal-report"),
]
