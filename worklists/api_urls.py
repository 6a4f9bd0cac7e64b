from django.urls import path

from worklists import api

urlpatterns = [
    path("orders", api.OrdersApi.as_view(), name="api-orders"),
    path("studies", api.StudyListApi.as_view(), name="api-studies"),
    path("studies/<int:study_id>", api.StudyDetailApi.as_view(), name="api-study"),
    path("worklists", api.WorklistListApi.as_view(), name="api-worklists"),
    path("auth/token", api.AuthTokenApi.as_view(), name="api-auth-token"),
]
