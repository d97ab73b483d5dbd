"""Exports of events to S3 or the local export folder (SPEC §9).

``services`` submits and cancels requests, ``runner`` writes their files (resuming after the
last finished one), ``reader``/``writer``/``destinations`` are its parts, ``schedules`` runs
scheduled exports through beat; ``api``, ``admin`` and ``tasks`` are the entry points.
See docs/ARCHITECTURE.md "Exports".
"""
