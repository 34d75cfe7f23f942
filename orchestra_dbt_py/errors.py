"""The one error type the CLI turns into a one-line message and an exit code."""


class OrcError(Exception):
    """A problem the user can fix; `str(error)` says what is wrong and how to fix it."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(error: BaseException | str) -> str:
    """An error's text on one line (dbt's messages span several), without URL query
    strings, where a shared access signature or a token could be; an error without text
    is named by its type."""
    text = error if isinstance(error, str) else str(error)
    words = [
        word.split("?", 1)[0] + "?..." if "://" in word and "?" in word else word
        for word in text.split()
    ]
    if not words and not isinstance(error, str):
        return type(error).__name__
    return " ".join(words)
