"""Dagster sensors and schedules that start Pulse runs."""
