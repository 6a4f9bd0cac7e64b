from django.urls import path

from reports.portal import api

urlpatterns = [
    path("site/studies", api.SitePortalStudiesApi.as_view(), name="api-site-portal-studies"),
]
