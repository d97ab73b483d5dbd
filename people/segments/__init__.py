"""Segments (audiences, SPEC §7): rule trees compiled to SQL, materialised membership kept
current by full refreshes and by incremental re-evaluation after events and profile changes."""
