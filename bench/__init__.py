"""Lifeline's benchmarks (see bench/README.md). Never imported by the product; never run by `make test`."""
