"""The Genonaut HTTP API."""
