"""The state file: the store and its schema migrations."""
