"""How the bot says things, without I/O: one-line descriptions of Koji records and bus
events, failure details, times, event words.
"""
