"""Experiments behind individual notebooks, composed from the engine modules."""
