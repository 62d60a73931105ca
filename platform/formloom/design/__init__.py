"""The app designer's engine: drafts of an app's documents, the edits the designer
makes to them, the settings forms generated from the field-type registry, the
impact of a draft on stored data, and publishing through the one install path.

Nothing here knows about HTTP; web/designer.py is the screens."""
