"""`python -m shipyard_mcp`: the MCP server, stdio by default."""

from shipyard_mcp.server import main

main()
