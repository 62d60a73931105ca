"""Working together on records: the activity timeline, comments and saved views.

Importing the package registers every timeline source (comments add theirs)."""
from . import activity, comments  # noqa: F401
