"""Which signed reports are reviewed: a random draw per report, stratified by author.

Pure Python over the stratum's two counters (the author's reports signed in the worklist while
its policy was active, and how many of them were sampled), so that it is property-tested
without a database (tests/test_quality_sampling.py).

Each report is drawn with the configured probability, except when the author's stratum has
fallen behind or run ahead of its share by a whole report: then the draw is corrected (taken,
or left). So for every author, after n reports, |sampled - n * share| <= 1 at all times, while
which reports are taken stays random. A plain random draw only meets the share on average; an
author with few reports could go unreviewed for months, or be reviewed twice their share.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def draw(*, share_percent: Decimal, signed: int, sampled: int, chance: float) -> bool:
    """Whether the author's next signed report is sampled.

    ``signed`` and ``sampled`` are the stratum's counters before this report; ``chance`` is a
    uniform random number in [0, 1). Exact arithmetic: a share of 10 % is 1/10, not 0.1000001.
    """
    if not 0 <= sampled <= signed:
        raise ValueError("the counters are inconsistent: sampled must be between 0 and signed")
    share = Fraction(share_percent) / 100
    if not 0 < share <= 1:
        raise ValueError("the share must be above 0 and at most 100 percent")
    expected = (signed + 1) * share  # the author's due after this report
    if sampled < expected - 1:
        return True  # left out, the stratum would be more than one report behind
    if sampled + 1 > expected + 1:
        return False  # taken, it would be more than one report ahead
    return Fraction(chance) < share
