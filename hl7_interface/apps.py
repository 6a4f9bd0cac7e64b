from django.apps import AppConfig


class Hl7InterfaceConfig(AppConfig):
    """HL7 v2 over MLLP: orders in from each site's RIS, signed reports and cancellations out."""

    name = "hl7_interface"
    verbose_name = "HL7 interface"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hl7_interface import checks  # noqa: F401 (registers the system checks)
        from hl7_interface.dead_letters import dead_letters_panel
        from worklists.hooks import ConsolePanel, register_console_panel

        # The core's console shows the dead letters and offers their re-send (worklists.hooks).
        register_console_panel(ConsolePanel(name="dead-letters", render=dead_letters_panel))
