"""MIRP's media benchmark: a server process, client processes, one command (bench/README.md)."""
