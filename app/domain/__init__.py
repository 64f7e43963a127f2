"""Pure decision logic: capability resolution, pairing detection, charge-state sync. No I/O."""
