"""The one exception type a user sees as a one-line message instead of a traceback."""


class RatchetError(Exception):
    """A problem the user can fix.

    The message names the file, key or column and the reason, so the CLI prints it as
    one line and exits non-zero.
    """

    exit_code = 2


class ValidationFailed(RatchetError):
    """The data broke the schema; the report has been written."""

    exit_code = 1
