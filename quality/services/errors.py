"""What the review services refuse: the core's four kinds, so the API and pages translate them
as they do the core's (404, 403, 409, 400)."""

from __future__ import annotations

from worklists.errors import Conflict, InvalidInput, NotFound, NotPermitted


class ReviewNotFound(NotFound):
    """No such review, or not one the caller may see (never which)."""


class NotTheReviewer(NotPermitted):
    """Only the radiologist the review is assigned to scores it."""


class NotACoordinator(NotPermitted):
    """Only coordinators withdraw and reassign reviews."""


class ReviewStateConflict(Conflict):
    """Scored or cancelled already, or not (yet) assigned."""


class ReviewInvalid(InvalidInput):
    """A score outside the scale, or a discrepancy without a comment."""


class ReviewerNotEligible(Conflict):
    """A reassignment to someone routing would never choose: the author, a reader whose read
    went into a double-read final, or someone not eligible (competence, credential, active)."""
