"""The public transparency report: aggregate figures of the programme, computed from the audit
log alone, with small counts suppressed so that no single developer can be identified."""
