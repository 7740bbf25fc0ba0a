"""The benchmark harness (`make bench`): real Bay processes measured against raw baselines."""
