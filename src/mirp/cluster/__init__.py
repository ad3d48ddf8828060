"""The cluster: which nodes are alive and which one owns each meeting (Directory), topics between
processes (Bus), and the task that keeps a node's place and leases (Keeper); each Local (one
process) or Redis. See docs/architecture.md, "The cluster's coordination layer"."""
