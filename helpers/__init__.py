"""Helpers behind the Docker course notebooks."""
