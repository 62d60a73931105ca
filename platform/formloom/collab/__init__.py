"""Working together on one record: the activity timeline and comments.

Importing the package registers every timeline source (comments add theirs)."""
from . import activity, comments  # noqa: F401
