"""Every change to a report: one service per change, each owning its transaction."""
