"""The project's own indexes on MLflow's tables (standard library + PyMySQL only), for mlflow_db.py.

MLflow's schema has no index for the way its search_runs orders and filters an experiment's runs, so at a hundred
thousand runs and more every search reads and sorts all of the experiment's runs (docs/performance.md, with the
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
    # search_runs' default order within an experiment: WHERE experiment_id IN (e) AND lifecycle_stage IN ('active')
    # ORDER BY start_time DESC, run_uuid LIMIT n (MLflow's _get_orderby_clauses), and the UI's pages of runs. With it
    # the first page reads n rows in order instead of sorting every run of the experiment (filesort).
    ("mlflow_on_aws_runs_experiment_order", "runs", "experiment_id, lifecycle_stage, start_time DESC, run_uuid"),
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


def _table_indexes(connection, table):
    """The indexes of `table` but its primary key: name -> the columns as CREATE INDEX takes them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT index_name, column_name, sub_part, collation FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND table_name = %s AND index_name <> 'PRIMARY' "
            "ORDER BY index_name, seq_in_index",
            (table,),
        )
        indexes = {}
        for name, column, sub_part, collation in cursor.fetchall():
            part = f"`{column}`" + (f"({sub_part})" if sub_part else "") + (" DESC" if collation == "D" else "")
            indexes.setdefault(name, []).append(part)
        return {name: ", ".join(parts) for name, parts in indexes.items()}


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
            before = _table_indexes(connection, table)
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE INDEX `{name}` ON `{table}` ({columns}) ALGORITHM=INPLACE LOCK=NONE")
                # MySQL and MariaDB silently drop the index they made for a foreign key (runs.experiment_id) when a new
                # one can serve it, which would leave the new index holding up MLflow's foreign key. MLflow's own
                # index is made again, so that its schema stays as it made it and this one can be dropped on its own.
                after = _table_indexes(connection, table)
                for lost, lost_columns in before.items():
                    if lost not in after:
                        log(f"re-creating MLflow's index {lost} on {table} ({lost_columns}), which the database dropped "
                            f"for {name}")
                        cursor.execute(f"CREATE INDEX `{lost}` ON `{table}` ({lost_columns}) ALGORITHM=INPLACE LOCK=NONE")
            created.append(name)
        except pymysql.err.MySQLError as error:
            log(f"could not create the index {name} on {table}: {error}. MLflow serves without it (slower searches "
                "of large experiments, docs/performance.md); the next start tries again")
    return created


if __name__ == "__main__":
    if sys.argv[1:] == ["list"]:
        print(json.dumps([{"name": n, "table": t, "columns": c} for n, t, c in INDEXES]))
    else:
        print("usage: mlflow_indexes.py list", file=sys.stderr)
        sys.exit(2)
