"""Glue between orchestrators and the package's jobs.

``orchestration.airflow`` is the only module that knows Airflow (connections, configuration,
exceptions, the run's data interval). Nothing is imported here on purpose: DAG files import the
submodule at parse time, and parsing must stay cheap.
"""
