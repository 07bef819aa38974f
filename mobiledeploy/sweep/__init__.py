"""Sweep alpha x resolution x precision, keep the measured Pareto front, pick under a latency budget."""
