"""Bus events into rooms and DMs: the router, the one enrich step (bounded hub look-ups),
routing without I/O over the subscription index, the persisted outbox.
"""
