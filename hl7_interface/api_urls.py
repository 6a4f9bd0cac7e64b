from django.urls import path

from hl7_interface import api

urlpatterns = [
    path("deliveries/dead", api.DeadLettersApi.as_view(), name="api-deliveries-dead"),
    path(
        "deliveries/<int:message_id>/resend",
        api.DeliveryResendApi.as_view(),
        name="api-delivery-resend",
    ),
]
