"""Helpers every product app may use (they import no workflow app)."""
