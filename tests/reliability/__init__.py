"""Reliability and security tests: crashes, concurrency, faults, planted entries, bad inputs."""
