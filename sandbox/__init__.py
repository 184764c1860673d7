"""MCP OAuth sandbox: FastMCP's OAuth proxy with an embedded IdP, sample tools and a flow trace."""
