"""The one error type the CLI turns into a one-line message and an exit code."""


class OrcError(Exception):
    """A problem the user can fix; `str(error)` says what is wrong and how to fix it."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(error: BaseException) -> str:
    """An exception's message on one line (dbt's messages span several)."""
    return " ".join(str(error).split())
