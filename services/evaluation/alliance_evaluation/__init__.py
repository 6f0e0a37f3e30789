"""The evaluation service of the alliance platform."""
