"""Serving: the HTTP app, batching, request bodies, the kill switch and the server process."""
