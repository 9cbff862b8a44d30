"""The project's own indexes on MLflow's tables (standard library + PyMySQL only), for mlflow_db.py.

MLflow's schema has no index for the way its search_runs filters an experiment's runs by a metric, param or tag
value, so at a hundred thousand runs a filtered search reads every row with that key (docs/reference/performance.md, with the
statements and their EXPLAIN). These indexes are the project's, not MLflow's: each is named with the prefix
`mlflow_on_aws_`, adds no column and changes no row, and MLflow's migrations know nothing of them.

    python3 mlflow_indexes.py list     prints the indexes as JSON (name, table, columns), for the tests and the
                                       scale benchmark (bench/scale-bench.ts)

`ensure` runs at every start under the schema lock, after MLflow's migrations and the character-set conversion: it
creates each index that is missing (one query to information_schema when none is), online (ALGORITHM=INPLACE,
LOCK=NONE: the tasks of a rolling deploy keep reading and writing meanwhile). So an index survives MLflow upgrades:
a migration that rebuilds a table without it is followed, at the next start or in the upgrade's one-off task, by its
creation again. A failure is logged and the server starts anyway: the indexes make searches faster, not correct.
"""

import json
import sys

# name, table, the index's columns as CREATE INDEX takes them
INDEXES = (
    # Not here: an index on runs (experiment_id, lifecycle_stage, start_time DESC, run_uuid) for search_runs' default
    # order. It made that order 10x faster, but at 360,000 runs the database then drove every filtered search from it
    # and read the whole experiment (MLflow's SELECT DISTINCT keeps LIMIT from stopping early): a param filter matching
    # 10 % of runs took 10 s instead of 3 s (docs/reference/performance.md).
    # search_runs filters: MLflow joins a subquery WHERE key = k AND value <op> v per filter. MLflow's own indexes
    # start with (key, run_uuid), so every run with that key is read; these find the matching ones. Text values are
    # up to 8000 characters: a prefix of 100 serves equality and prefix comparisons (MySQL re-checks the full value).
    ("mlflow_on_aws_latest_metrics_key_value", "latest_metrics", "`key`, value"),
    ("mlflow_on_aws_params_key_value", "params", "`key`, value(100)"),
    ("mlflow_on_aws_tags_key_value", "tags", "`key`, value(100)"),
)


def _existing(connection):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT table_name, index_name FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND index_name LIKE 'mlflow\\_on\\_aws\\_%%'"
        )
        return {(table, name) for table, name in cursor.fetchall()}


def _tables(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        return {row[0] for row in cursor.fetchall()}


def ensure(connection, log):
    """Creates the missing indexes; returns their names. The caller holds the schema lock."""
    import pymysql

    existing = _existing(connection)
    missing = [index for index in INDEXES if (index[1], index[0]) not in existing]
    if not missing:
        return []
    tables = _tables(connection)
    created = []
    for name, table, columns in missing:
        if table not in tables:
            log(f"index {name}: MLflow's table {table} does not exist in this schema; not created")
            continue
        log(f"creating the project's index {name} on {table} ({columns}); the table stays readable and writable")
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE INDEX `{name}` ON `{table}` ({columns}) ALGORITHM=INPLACE LOCK=NONE")
            created.append(name)
        except pymysql.err.MySQLError as error:
            log(f"could not create the index {name} on {table}: {error}. MLflow serves without it (slower searches "
                "of large experiments, docs/reference/performance.md); the next start tries again")
    return created


if __name__ == "__main__":
    if sys.argv[1:] == ["list"]:
        print(json.dumps([{"name": n, "table": t, "columns": c} for n, t, c in INDEXES]))
    else:
        print("usage: mlflow_indexes.py list", file=sys.stderr)
        sys.exit(2)
