"""subscriptions layer."""
