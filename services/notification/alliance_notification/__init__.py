"""The notification service of the alliance platform."""
