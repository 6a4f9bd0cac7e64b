from django.apps import AppConfig


class DemoRisConfig(AppConfig):
    """The test RIS (demo and tests): no models, a management command and an embedded service."""

    name = "demo_ris"
    verbose_name = "Test RIS (demo)"
