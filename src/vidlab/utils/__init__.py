"""Small shared utilities: run metadata, reporting, file helpers."""
