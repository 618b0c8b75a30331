"""Enterprises under supervision: onboarding, scoped reads and edits, key points."""
