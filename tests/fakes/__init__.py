"""Fake upstream servers for the tests and benchmarks."""
