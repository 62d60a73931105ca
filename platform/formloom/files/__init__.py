"""Attachments: where file bytes live (storage), what a file really is (sniff), and
the uploads a `file` or `image` field accepts (uploads). The database side (who
uploaded what, which record holds it) is store/files.py."""
