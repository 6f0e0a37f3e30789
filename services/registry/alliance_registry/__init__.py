"""The registry service of the alliance platform."""
