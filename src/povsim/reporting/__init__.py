"""Reporting: tables, summary numbers, figures and self-contained HTML for each command,
written atomically."""
