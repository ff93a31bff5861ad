"""One exception type for bad input, so the CLI can print it as a single line and exit non-zero."""


class MedsynError(Exception):
    """A user-facing error: the message is one line that says what is wrong and, where possible, how to fix it."""
