"""The message bus: the AMQP 0-9-1 consumer and its broker settings."""
