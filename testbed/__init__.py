"""Real MySQL NDB Cluster test bed: provision.sh builds it, cluster.py runs clusters on it."""
