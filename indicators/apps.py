from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IndicatorsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "indicators"
    verbose_name = _("Indicators")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from indicators.aggregates import register_sqlite_percentile

        # SQLite has no percentile_cont: each new connection gets one, as Django gives each
        # SQLite connection its STDDEV_POP and friends.
        connection_created.connect(
            register_sqlite_percentile, dispatch_uid="indicators.sqlite_percentile"
        )
