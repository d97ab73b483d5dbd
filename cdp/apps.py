from django.apps import AppConfig


class CdpConfig(AppConfig):
    name = "cdp"
    verbose_name = "CDP"

    def ready(self) -> None:
        # Register the outbox's tasks in every process (web ones included): the outbox finds
        # them by name when it hands committed messages to Celery.
        from cdp import tasks  # noqa: F401
