"""Typed Python client and `videohook` CLI for the videohook API."""
