from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from quality.models import PeerReviewPolicy, ReviewScale, ReviewScaleLevel
from quality.services.policies import policy_save


@admin.register(PeerReviewPolicy)
class PeerReviewPolicyAdmin(admin.ModelAdmin):
    """Coordinators set each worklist's peer review here (its share, blinding, deadline and the
    scale its reviews are scored on); the tasks themselves change only through the services
    (scored on the review page or the API, reassigned and withdrawn by coordinators)."""

    list_display = (
        "worklist",
        "share_percent",
        "scale",
        "blind_author",
        "days_to_deadline",
        "is_active",
        "active_since",
    )
    list_filter = ("is_active", "blind_author", "scale")
    readonly_fields = ("active_since",)

    def save_model(
        self, request: HttpRequest, obj: PeerReviewPolicy, form: Any, change: bool
    ) -> None:
        # The form's initial data is the row as it was before this edit.
        was_active = change and bool(form.initial.get("is_active"))
        policy_save(policy=obj, was_active=was_active)


class ReviewScaleLevelInline(admin.TabularInline):
    model = ReviewScaleLevel
    extra = 1
    fields = ("position", "code", "label", "significant", "needs_comment")


@admin.register(ReviewScale)
class ReviewScaleAdmin(admin.ModelAdmin):
    """A scale and its levels. A level a scored review used cannot be deleted (the review
    keeps it); changing whether a level is significant changes the figures of the past too."""

    list_display = ("name", "code", "is_default")
    inlines = [ReviewScaleLevelInline]
