"""Benchmarks (`make bench`): numbers, not tests; never collected by pytest."""
