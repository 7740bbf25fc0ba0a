"""Sandbox egress: a per-sandbox proxy that every outbound connection of a sandbox passes,
enforcing its network policy (see `policy`) and counting its bytes."""
