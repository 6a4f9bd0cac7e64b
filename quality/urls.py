from django.urls import URLPattern, path

from quality import coordinator_views, views

urlpatterns: list[URLPattern] = [
    path("reviews/", views.reviews_page, name="reviews"),
    path("reviews/figures/", views.review_figures_page, name="review-figures"),
    path("reviews/figures.csv", views.review_figures_csv, name="review-figures-csv"),
    path("reviews/<int:review_id>/", views.review_page, name="review"),
    path("reviews/<int:review_id>/score", views.review_score_view, name="review-score"),
    path(
        "reviews/<int:review_id>/reassign",
        coordinator_views.review_reassign_view,
        name="review-reassign",
    ),
]
