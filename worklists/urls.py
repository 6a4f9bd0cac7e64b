from django.urls import path

from worklists import views

urlpatterns = [
    path("worklist/", views.worklist_page, name="worklist"),
    path("studies/<int:study_id>/", views.study_page, name="study"),
]
