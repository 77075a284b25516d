"""kojibot: a chat bot for a Koji build system."""

__version__ = "0.1.0"
