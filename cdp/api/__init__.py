"""Pieces shared by every API surface: key authentication, the error shape, body parsing."""
