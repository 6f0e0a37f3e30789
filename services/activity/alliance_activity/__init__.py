"""The activity service of the alliance platform."""
