"""Benchmarks: each compares a workload with its baseline side by side in one process and prints ratios."""
