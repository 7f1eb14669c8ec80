"""Cairo PIEs and facts: `pie` (reading), `program_output`, `program_hash`, `fact` (GPS and L2 facts)."""
