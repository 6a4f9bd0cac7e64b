"""Dates and times in bokmål: 24-hour dd.mm.yyyy HH:MM (teleradiology/formats/shared.py)."""

from teleradiology.formats.shared import *  # noqa: F403
