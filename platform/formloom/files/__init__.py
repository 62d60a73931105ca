"""Attachments: where file bytes live (storage) and what a file really is (sniff).
The database side (who uploaded what, which record holds it) is store/files.py and
taking an upload is store/uploads.py."""
