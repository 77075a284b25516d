"""The chat core, independent of any network: the message model and its renderers, declared
commands, the dispatcher and the per-person rate limit.
"""
