"""Offline-sync engine, independent of the web framework (filled in by the offline-sync issue)."""
