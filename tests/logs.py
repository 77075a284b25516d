"""What the code under test logs, as the formatted lines an operator would read."""

from contextlib import contextmanager

from twisted.logger import formatEvent, globalLogPublisher


@contextmanager
def log_lines():
    """What is logged meanwhile, as formatted lines."""
    lines: list[str] = []

    def observe(event):
        lines.append(formatEvent(event) or "")

    globalLogPublisher.addObserver(observe)
    try:
        yield lines
    finally:
        globalLogPublisher.removeObserver(observe)
