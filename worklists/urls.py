from django.urls import path

from worklists import privacy_views, signin, views, views_preferences

urlpatterns = [
    path("login/", signin.SignIn.as_view(), name="login"),
    path("worklist/", views.worklist_page, name="worklist"),
    path("worklist/next", views.worklist_next, name="worklist-next"),
    path("worklist/rows/<int:study_id>", views.worklist_row, name="worklist-row"),
    path("studies/<int:study_id>/", views.study_page, name="study"),
    path("studies/<int:study_id>/assign", views.study_assign_view, name="study-assign"),
    path("studies/<int:study_id>/release", views.study_release_view, name="study-release"),
    path("privacy/", privacy_views.privacy_page, name="privacy"),
    path("privacy/access.csv", privacy_views.privacy_csv, name="privacy-csv"),
    path("preferences/language", views_preferences.language_set_view, name="language-set"),
]
