from django.urls import URLPattern, URLResolver, include, path

from reports import api, double_reading_api, macro_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("studies/<int:study_id>/report", api.ReportApi.as_view(), name="api-report"),
    path(
        "studies/<int:study_id>/report/preliminary",
        api.PreliminaryApi.as_view(),
        name="api-report-preliminary",
    ),
    path("studies/<int:study_id>/report/sign", api.SignApi.as_view(), name="api-report-sign"),
    path(
        "studies/<int:study_id>/report/addenda", api.AddendaApi.as_view(), name="api-report-addenda"
    ),
    path("studies/<int:study_id>/reject", api.RejectApi.as_view(), name="api-study-reject"),
    path(
        "studies/<int:study_id>/critical-communications",
        api.CriticalCommunicationsApi.as_view(),
        name="api-critical-communications",
    ),
    path(
        "studies/<int:study_id>/macros", macro_api.StudyMacrosApi.as_view(), name="api-study-macros"
    ),
    path("macros", macro_api.MacrosApi.as_view(), name="api-macros"),
    path("macros/<int:macro_id>", macro_api.MacroApi.as_view(), name="api-macro"),
    path("indicators/rejections", api.RejectionCountsApi.as_view(), name="api-rejection-counts"),
    path(
        "studies/<int:study_id>/double-reading",
        double_reading_api.DoubleReadingApi.as_view(),
        name="api-double-reading",
    ),
    path(
        "studies/<int:study_id>/double-reading/reads",
        double_reading_api.IndependentReadSignApi.as_view(),
        name="api-independent-read-sign",
    ),
    path(
        "indicators/double-reading",
        double_reading_api.DoubleReadingFiguresApi.as_view(),
        name="api-double-reading-figures",
    ),
    path("", include("reports.portal.api_urls")),
]
