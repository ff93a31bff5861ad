"""One exception type for bad input, so the CLI can print it as a single line and exit non-zero."""


class MedsynError(Exception):
    """A user-facing error: the message is one line that says what is wrong and, where possible, how to fix it."""


def first_line(err: BaseException) -> str:
    """An exception as one line for a ``MedsynError`` message: its first line, or its type when it has no text."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
