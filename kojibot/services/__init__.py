"""The services a plugin's Context offers, one module each.

Each service speaks for the person who asked, where they asked (an ``Incoming``), and is
the one place that writes a kind of state: it awaits the store's write and only then
changes the bot's in-memory index, so memory never holds what the database lacks. Reads
answer from memory and never write.
"""
