"""Prover clients: Atlantic, SHARP and the mock prover, plus the on-chain fact registry they consult."""
