"""Dataframes and friends (placeholder while the family is written)."""
