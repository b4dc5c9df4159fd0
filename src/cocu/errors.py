"""User-facing errors: the CLI prints their message and exits non-zero, no traceback."""


class CocuError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class DataLayoutError(CocuError):
    """A dataset folder does not have the expected layout (the message names what is missing)."""
