"""MCP server for Shipyard Neo."""
