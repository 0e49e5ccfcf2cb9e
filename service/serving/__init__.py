"""What is served: the registry's snapshots, one model brought in line with its folder, the
states of versions, and the policy that decides which version answers."""
