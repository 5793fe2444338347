"""The receiver's HTTP routes."""
