"""Latency measurement: one on-device runner, targets (local, ssh, adb), statistics, results store."""
