"""The core's admin, one module per area. Django's autodiscovery imports this package only, so
it imports each module here: importing a module registers its admins.
"""

from worklists.admin import audit, patients, people, shifts, sites

__all__ = ["audit", "patients", "people", "shifts", "sites"]
