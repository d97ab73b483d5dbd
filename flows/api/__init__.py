"""Native flows API under ``/api/v1/flows`` and ``/api/v1/people/{id}/flow-runs``."""
