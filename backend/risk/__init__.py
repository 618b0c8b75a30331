"""Enterprise risk grading (风险分级): scoring, incremental refresh, records, the profile page."""
