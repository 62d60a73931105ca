"""Benchmarks: Formloom against a hand-coded baseline app, and how cost grows with data.
Run `python -m benchmarks.run [--quick]` (see benchmarks/README.md)."""
