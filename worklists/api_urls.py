from django.urls import path

from worklists import api, token_api

urlpatterns = [
    path("orders", api.OrdersApi.as_view(), name="api-orders"),
    path("studies", api.StudyListApi.as_view(), name="api-studies"),
    path("studies/<int:study_id>", api.StudyDetailApi.as_view(), name="api-study"),
    path("worklists", api.WorklistListApi.as_view(), name="api-worklists"),
    path("worklist/next", api.WorklistNextApi.as_view(), name="api-worklist-next"),
    path("studies/<int:study_id>/claim", api.StudyClaimApi.as_view(), name="api-study-claim"),
    path("studies/<int:study_id>/release", api.StudyReleaseApi.as_view(), name="api-study-release"),
    path("studies/<int:study_id>/assign", api.StudyAssignApi.as_view(), name="api-study-assign"),
    path("studies/<int:study_id>/routing", api.StudyRoutingApi.as_view(), name="api-study-routing"),
    path(
        "studies/<int:study_id>/ai-findings",
        api.StudyAiFindingsApi.as_view(),
        name="api-study-ai-findings",
    ),
    path("auth/token", token_api.AuthTokenApi.as_view(), name="api-auth-token"),
    path("auth/tokens", token_api.OwnTokensApi.as_view(), name="api-auth-tokens"),
    path("auth/tokens/<int:token_id>", token_api.OwnTokenApi.as_view(), name="api-auth-token-one"),
    path("me", api.MeApi.as_view(), name="api-me"),
]
