from django.urls import path

from indicators import views

urlpatterns = [
    path("indicators/", views.indicators_page, name="indicators"),
    path("indicators/<slug:table>.csv", views.indicators_csv, name="indicators-csv"),
]
