from django.urls import path

from hl7_interface import views

urlpatterns = [
    path(
        "console/deliveries/<int:message_id>/resend",
        views.dead_letter_resend_view,
        name="hl7-dead-letter-resend",
    ),
]
