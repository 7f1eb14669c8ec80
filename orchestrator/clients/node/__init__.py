"""The L2 node: `madara` (JSON-RPC + feeder gateway client) over `jsonrpc` (the transport)."""
