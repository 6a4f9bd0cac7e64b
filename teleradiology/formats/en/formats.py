"""Dates and times in English: the same 24-hour dd.mm.yyyy HH:MM as in bokmål.

The readers are in Norway whichever language they read in; a US-style "Dec. 3, 2026, 9:15 p.m."
beside a Norwegian deadline invites mistakes. Numbers keep English separators.
"""

from teleradiology.formats.shared import *  # noqa: F403
