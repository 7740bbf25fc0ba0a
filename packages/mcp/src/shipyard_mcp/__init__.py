"""MCP server for Shipyard Neo: `create_server(Settings)` or the `shipyard-mcp` command."""
