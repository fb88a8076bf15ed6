"""Tasks, blobs and submissions: what a requester asks for and what contributors send."""
