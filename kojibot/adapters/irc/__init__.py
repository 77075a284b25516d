"""IRC: the network connection, its lines and who is where, flood pacing."""
