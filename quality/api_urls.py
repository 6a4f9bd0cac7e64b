from django.urls import URLPattern, path

from quality import api

urlpatterns: list[URLPattern] = [
    path("reviews", api.ReviewsApi.as_view(), name="api-reviews"),
    path("reviews/figures", api.ReviewFiguresApi.as_view(), name="api-review-figures"),
    path("reviews/<int:review_id>", api.ReviewApi.as_view(), name="api-review"),
    path("reviews/<int:review_id>/score", api.ReviewScoreApi.as_view(), name="api-review-score"),
    path("reviews/<int:review_id>/cancel", api.ReviewCancelApi.as_view(), name="api-review-cancel"),
    path(
        "reviews/<int:review_id>/reviewers",
        api.ReviewReviewersApi.as_view(),
        name="api-review-reviewers",
    ),
    path(
        "reviews/<int:review_id>/reassign",
        api.ReviewReassignApi.as_view(),
        name="api-review-reassign",
    ),
]
