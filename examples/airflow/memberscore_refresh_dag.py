"""memberscore's daily refresh as an Airflow DAG: one BashOperator calling ``memberscore refresh``.

Copy this file into your DAGs folder and set the paths and project below (Airflow 2.4+ or 3).
Exit codes of ``memberscore refresh``: 0 nothing to do and 3 retrained are both a success here
(3 is logged as such); 4 means a person should look (a drift or decay rule raised an alert, or a
retrain the rules asked for did not pass the gate), so the task fails and Airflow's own alerting
(``email_on_failure``, an ``on_failure_callback``) flags it; it is not retried, since running the
same day again would find the same alert. 2 is bad input. The run's reasons are in the task log
and in ``<snapshot_dir>/<project>/refresh.jsonl``. Airflow is not a dependency of memberscore.
"""

from __future__ import annotations

from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator

MEMBERSCORE = "/srv/memberscore/.venv/bin/memberscore"
COMMAND = (f"{MEMBERSCORE} refresh --transactions /srv/memberscore/data/transactions.parquet "
           "--mapping /srv/memberscore/mapping.yaml --project shop")
SCHEDULE = "30 5 * * *"  # daily, after the night's purchases have landed
# 3 (retrained) becomes success; every other code is passed on, so 4 (alert) and 2 (bad input) fail the task
BASH = f'{COMMAND}; code=$?; if [ "$code" -eq 3 ]; then echo "memberscore refresh: models retrained"; exit 0; fi; exit "$code"'

with DAG(
    dag_id="memberscore_refresh",
    description="memberscore: snapshot, backtests, drift, and a retrain only when a rule says so",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,  # a missed day is not worth replaying: the next run sees all the purchases
    max_active_runs=1,
    default_args={"retries": 0, "execution_timeout": timedelta(hours=4), "email_on_failure": True},
    tags=["memberscore"],
) as dag:
    BashOperator(task_id="refresh", bash_command=BASH, cwd="/srv/memberscore",
                 env={"MEMBERSCORE_SNAPSHOT_DIR": "/srv/memberscore/var/snapshots"}, append_env=True)
