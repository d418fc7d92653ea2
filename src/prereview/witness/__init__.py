"""A C2SP tlog-witness: cosigns checkpoints of the logs it follows, refusing any fork."""
