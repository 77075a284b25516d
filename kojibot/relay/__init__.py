"""Bus events into rooms: the router, the subscription index it matches, bounded hub look-ups,
the persisted outbox.
"""
