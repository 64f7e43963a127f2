"""Workers: shard leases, per-asset polling coordinators, poll kicks, and the action runner."""
