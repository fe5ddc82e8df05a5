"""The one exception type lrcount raises for bad input."""


class LRCountError(ValueError):
    """Bad input: the message is one line saying what is wrong and what to do."""
