"""Notifications: the outbox dispatch writes to, web-push and second-channel delivery, the inbox."""
