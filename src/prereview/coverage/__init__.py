"""Covered-frontier-model determinations under written, versioned policies."""
