"""The NDB Cluster components: management nodes, data node groups and the SQL node pool."""
