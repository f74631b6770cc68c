"""REST interactions on resources: CRUD, history, transactions, and the one write path."""
