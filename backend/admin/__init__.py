"""Administration pages: units, users, enterprise onboarding."""
