"""CDP project package: settings, URLs, the Celery app and the health check."""

from .celery import app as celery_app

__all__ = ("celery_app",)
