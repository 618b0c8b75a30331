"""Inspections (检查) and enterprise self-checks (企业自查) on versioned checklists."""
