"""Atelier, the product: people, policy and workflows over the generation and payments engines."""

from tester_platform.celery import app as celery_app

__all__ = ("celery_app",)
