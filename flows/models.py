"""Flows (SPEC §8). The app is registered now; its models arrive with the flows work."""
