"""Web push: VAPID keys now; subscriptions and delivery come with task dispatch."""
