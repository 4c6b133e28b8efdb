"""Benchmarks of spotify_pipeline: `make bench` (``python -m bench``); docs/benchmarks.md has the results.

One module per benchmark (``bench_import``, ``bench_processing``, ``bench_api_calls``,
``bench_completeness``); ``common`` holds the subprocess runner that measures peak RSS and the
simulated world they share. Every figure with a baseline is compared with one measured in the same run.
"""
