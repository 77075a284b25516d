"""What the bot does for one person: DM alerts and watches."""
