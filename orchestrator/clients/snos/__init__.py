"""Starknet OS runners: `command` (an external program), `devnet` (a stand-in for recorded blocks; not the OS)."""
