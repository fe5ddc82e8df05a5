"""The exception types of lrcount: bad input, and results that could not be written."""


class LRCountError(ValueError):
    """Bad input: the message is one line saying what is wrong and what to do."""


class NotWrittenError(LRCountError):
    """A result was computed but could not be written; ``result`` is what the command would
    have printed, so that the caller can still show it."""

    def __init__(self, message: str, result: str | None = None):
        super().__init__(message)
        self.result = result
