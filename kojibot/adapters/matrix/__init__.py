"""Matrix (matrix-nio): the homeserver session, rooms, DMs, send queues, saved login."""
