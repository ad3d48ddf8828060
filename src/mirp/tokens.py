"""Signed join tokens (filled in by the store/API work)."""
