from django.urls import path

from indicators import api

urlpatterns = [path("indicators", api.IndicatorsApi.as_view(), name="api-indicators")]
