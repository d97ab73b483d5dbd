"""Analytics of events (SPEC §10): event segmentation and funnels, and the admin dashboard.

``queries`` checks a JSON query against the workspace (definitions, property conditions in the
segment rules' ``where`` format, the segment) and returns a frozen query; ``segmentation`` and
``funnels`` answer it in SQL (the same statements on PostgreSQL and SQLite, with a few
vendor-specific expressions in ``sql``); ``dashboard`` reads the admin index's figures.
``api`` and ``admin_views`` are the entry points. See docs/ARCHITECTURE.md "Analytics".
"""
