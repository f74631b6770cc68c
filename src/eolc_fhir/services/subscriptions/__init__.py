"""Topic-based subscriptions: the outbox, status, and the dispatcher that delivers."""
