"""Benchmarks of the hub's paths, each against a raw baseline on the same servers.

Run ``python -m bench --help``. Every row times one path of the hub and a
baseline that does the same I/O with the bare client library, in the same
process and on the same servers, and reports their ratio. The machine is
shared and noisy, so only the ratios mean much.
"""
