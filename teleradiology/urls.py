from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.decorators.cache import cache_page
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from teleradiology.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="worklist", permanent=False)),
    path("healthz", healthz, name="healthz"),
    # The strings the page scripts show, in the page's language (base.html asks per language).
    path(
        "jsi18n/",
        cache_page(3600)(JavaScriptCatalog.as_view(domain="djangojs")),
        name="javascript-catalog",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("worklists.api_urls")),
    path("api/v1/", include("reports.api_urls")),
    path("api/v1/", include("worklists.console.api_urls")),
    path("api/v1/", include("indicators.api_urls")),
    path("api/v1/", include("hl7_interface.api_urls")),
    path("api/v1/", include("quality.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from the platform's own static files (drf-spectacular-sidecar), its start-up
    # script a file of its own: no CDN, no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("account/", include("worklists.account_urls")),
    path("", include("worklists.urls")),
    path("", include("worklists.console.urls")),
    path("", include("reports.urls")),
    path("", include("hl7_interface.urls")),
    path("", include("indicators.urls")),
    path("", include("quality.urls")),
]
