"""Data in and out in bulk: reading spreadsheets (files.py), proposing and keeping a
column mapping (mapping.py), turning cells written by people into field values
(convert.py), importing row by row through the same paths as a form (importer.py),
running long imports as jobs with progress (jobs.py), and streaming exports
(export.py, cells.py)."""
