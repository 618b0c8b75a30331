"""Incidents (突发事件): a reported event, the plan proposed for it, its tasks and its board."""
