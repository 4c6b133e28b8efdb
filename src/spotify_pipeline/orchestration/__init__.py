"""Glue between orchestrators and the package's jobs.

The ``airflow*`` modules are the only ones that know Airflow (configuration, connections,
exceptions, the run's context): ``airflow_dags`` at parse time, ``airflow_connections`` and
``airflow_tasks`` at run time, ``airflow`` gathering their names for DAG files. ``mapping`` holds
the pure helpers (a run's hour, the plan of listeners). Nothing is imported here on purpose: DAG
files import a submodule at parse time, and parsing must stay cheap.
"""
