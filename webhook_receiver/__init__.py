"""Pulse's FastAPI receiver for Firecrawl webhooks, built by `webhook_receiver.app.create_app`."""
