"""How the bot says things: one-line descriptions of Koji records and bus events, answers,
failure details, times, event words.
"""
