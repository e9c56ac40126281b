"""Seeded scale and quality benchmarks (`python -m benchmarks.run`)."""
