"""The lifecycle from a shell: publish a graph brought from elsewhere, promote, pin, unpin,
canary, load and unload."""
