"""Aggregator runners (the local aggregation of SHARP/Mock): `devnet` (a stand-in; not StarkWare's aggregator)."""
