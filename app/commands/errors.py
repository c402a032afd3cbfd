"""The two ways a command ends badly, and the exit status each one means."""

from __future__ import annotations


class UsageError(Exception):
    """The command line asks for something that cannot be done (bad value, unknown run id).

    Exit status 2, like argparse's own errors, so scripts can tell it from a failed operation.
    """

    exit_status = 2


class CommandFailed(Exception):
    """The request made sense but the work failed (invalid import file, unusable database).

    `details` are extra lines printed under the message, for instance one per invalid field.
    """

    exit_status = 1

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []
