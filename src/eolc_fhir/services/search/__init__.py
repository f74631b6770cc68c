"""Search: by type, across types, includes, snapshots and paging."""
