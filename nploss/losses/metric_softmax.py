"""Losses of this family (being written)."""

__all__: list[str] = []
