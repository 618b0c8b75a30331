"""Hazards (隐患): reporting (online, or offline through the sync outbox) and their pages."""
