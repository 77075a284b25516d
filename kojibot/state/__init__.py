"""The state: the store over SQLite or PostgreSQL, its schema migrations, and the lead
lease of kojibots sharing one PostgreSQL database."""
