from django.contrib import admin

from quality.models import PeerReviewPolicy


@admin.register(PeerReviewPolicy)
class PeerReviewPolicyAdmin(admin.ModelAdmin):
    """Coordinators set each worklist's peer review here; the tasks themselves change only
    through the services (scored on the review page or the API)."""

    list_display = ("worklist", "share_percent", "blind_author", "days_to_deadline", "is_active")
    list_filter = ("is_active", "blind_author")
