"""Converts MLflow's schema to utf8mb4 when it is not (standard library + PyMySQL only), for mlflow_db.py.

A schema made on MySQL 5.7 / Aurora MySQL 2 without a character set, as the original aws-mlflow-sagemaker-cdk sample's
was, is latin1, and MLflow's upgrade keeps it so, new tables included. On it MLflow refuses names, params and tags
outside Latin-1, silently loses MLflow 3 traces holding such text, and finds nothing when a search names accented text
(docs/guides/migrate-from-sample.md). `ALTER TABLE ... CONVERT TO CHARACTER SET` alone fails on most of MLflow's tables: MySQL
and MariaDB refuse to change a column that a foreign key links to a column of another character set. So:

1. the schema's foreign keys are read from information_schema and saved in the table FOREIGN_KEYS_TABLE;
2. they are dropped;
3. every table that has a non-utf8mb4 column or default is converted (`CONVERT TO CHARACTER SET utf8mb4`: the text is
   transcoded, Latin-1 characters stay the same characters; a TEXT column becomes MEDIUMTEXT so that it still holds as
   many characters), and so is the schema's default, which the tables of later MLflow releases take;
4. the saved foreign keys are added back as they were (names, columns, ON DELETE / ON UPDATE rules), without
   re-checking rows that were checked when they were written (foreign_key_checks=0 in this session only), and the
   saved table is dropped.

The collation is the one a new schema gets on this server, i.e. the one MLflow's tables have in a deployment that
started on an empty database: the server's collation_server when it is a utf8mb4 collation (Aurora MySQL 3:
utf8mb4_0900_ai_ci; the tests' MariaDB: utf8mb4_general_ci), otherwise the server's default utf8mb4 collation. MLflow
sets no collation of its own: it expects MySQL's case-insensitive default and adds BINARY where it needs exact matches.

The caller holds the schema lock and no MLflow server writes meanwhile (tasks wait for the lock before they serve).
Each step can be repeated: a run that stops half-way (task stopped, connection lost) is finished by the next one,
which takes the foreign keys from the saved table. A schema that is utf8mb4 throughout costs three small
information_schema queries and is not touched.
"""

import time

TARGET_CHARSET = "utf8mb4"
FOREIGN_KEYS_TABLE = "mlflow_on_aws_charset_foreign_keys"


def _rows(connection, sql, args=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def _execute(connection, sql, args=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, args)


def _quote(name):
    return "`" + name.replace("`", "``") + "`"


def tables_to_convert(connection):
    """Base tables of the current schema with a default or a column in another character set than utf8mb4."""
    rows = _rows(
        connection,
        "SELECT t.TABLE_NAME FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() "
        "AND t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_NAME <> %s AND ("
        "  t.TABLE_COLLATION NOT LIKE %s"
        "  OR EXISTS (SELECT 1 FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA "
        "             AND c.TABLE_NAME = t.TABLE_NAME AND c.CHARACTER_SET_NAME IS NOT NULL AND c.CHARACTER_SET_NAME <> %s)"
        ") ORDER BY t.TABLE_NAME",
        (FOREIGN_KEYS_TABLE, TARGET_CHARSET + r"\_%", TARGET_CHARSET),
    )
    return [row[0] for row in rows]


def schema_charset(connection):
    return _rows(
        connection,
        "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()",
    )[0][0]


def saved_table_exists(connection):
    return bool(_rows(
        connection,
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (FOREIGN_KEYS_TABLE,),
    ))


def target_collation(connection):
    """The collation a schema created on this server without one gets, if it is utf8mb4's; else utf8mb4's default."""
    server = _rows(connection, "SELECT @@character_set_server, @@collation_server")[0]
    if server[0] == TARGET_CHARSET:
        return server[1]
    return _rows(
        connection,
        "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE CHARACTER_SET_NAME = %s AND IS_DEFAULT = 'Yes'",
        (TARGET_CHARSET,),
    )[0][0]


def foreign_keys(connection):
    """The schema's foreign keys: (table, name, the clause that adds it back), in a stable order."""
    rows = _rows(
        connection,
        "SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.REFERENCED_TABLE_SCHEMA, rc.REFERENCED_TABLE_NAME, "
        "rc.UPDATE_RULE, rc.DELETE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS rc JOIN information_schema.KEY_COLUMN_USAGE k "
        "ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME "
        "AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.REFERENCED_TABLE_NAME IS NOT NULL "
        "WHERE rc.CONSTRAINT_SCHEMA = DATABASE() "
        "ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION",
    )
    keys = {}
    for table, name, ref_schema, ref_table, on_update, on_delete, column, ref_column in rows:
        key = keys.setdefault((table, name), {
            "ref": f"{_quote(ref_schema)}.{_quote(ref_table)}", "update": on_update, "delete": on_delete,
            "columns": [], "ref_columns": [],
        })
        key["columns"].append(_quote(column))
        key["ref_columns"].append(_quote(ref_column))
    return [
        (table, name,
         f"ADD CONSTRAINT {_quote(name)} FOREIGN KEY ({', '.join(k['columns'])}) REFERENCES {k['ref']} "
         f"({', '.join(k['ref_columns'])}) ON DELETE {k['delete']} ON UPDATE {k['update']}")
        for (table, name), k in keys.items()
    ]


def existing_foreign_key_names(connection):
    rows = _rows(
        connection,
        "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = DATABASE()",
    )
    return {(table, name) for table, name in rows}


def _by_table(items):
    grouped = {}
    for table, *rest in items:
        grouped.setdefault(table, []).append(rest)
    return grouped


def convert(connection, log):
    """Brings the current schema (the connection's database) to utf8mb4; returns the number of tables converted."""
    tables = tables_to_convert(connection)
    resuming = saved_table_exists(connection)
    if not tables and schema_charset(connection) == TARGET_CHARSET and not resuming:
        return 0
    collation = target_collation(connection)
    started = time.monotonic()
    log(f"the schema is not utf8mb4 throughout ({len(tables)} table(s) to convert"
        f"{', resuming a conversion that stopped' if resuming else ''}): converting it to utf8mb4 ({collation})")
    # Session only: the foreign keys added back at the end are not re-checked row by row (the rows were checked when
    # they were written; nothing writes meanwhile).
    _execute(connection, "SET SESSION foreign_key_checks = 0")
    try:
        # Saved first, in the database itself, so that a run that stops after dropping them adds them back. A run that
        # stopped while saving them left some unsaved, and still in place: those are saved now.
        _execute(connection, f"CREATE TABLE IF NOT EXISTS {_quote(FOREIGN_KEYS_TABLE)} (table_name VARCHAR(64) NOT NULL, "
                             "constraint_name VARCHAR(64) NOT NULL, definition TEXT NOT NULL, "
                             "PRIMARY KEY (table_name, constraint_name)) CHARACTER SET utf8mb4")
        saved_names = {(t, n) for t, n in _rows(connection, f"SELECT table_name, constraint_name FROM {_quote(FOREIGN_KEYS_TABLE)}")}
        for table, name, definition in foreign_keys(connection):
            if (table, name) not in saved_names:
                _execute(connection, f"INSERT INTO {_quote(FOREIGN_KEYS_TABLE)} VALUES (%s, %s, %s)", (table, name, definition))
        saved = _rows(connection, f"SELECT table_name, constraint_name, definition FROM {_quote(FOREIGN_KEYS_TABLE)} "
                                  "ORDER BY table_name, constraint_name")
        present = existing_foreign_key_names(connection)
        for table, names in _by_table([(t, n) for t, n, _ in saved if (t, n) in present]).items():
            _execute(connection, f"ALTER TABLE {_quote(table)} " + ", ".join(f"DROP FOREIGN KEY {_quote(n)}" for [n] in names))
        log(f"{len(saved)} foreign key(s) saved in {FOREIGN_KEYS_TABLE} and dropped for the conversion")
        for table in tables:
            log(f"converting table {table}")
            _execute(connection, f"ALTER TABLE {_quote(table)} CONVERT TO CHARACTER SET {TARGET_CHARSET} COLLATE {collation}")
        _execute(connection, f"ALTER DATABASE {_quote(database_name(connection))} "
                             f"CHARACTER SET {TARGET_CHARSET} COLLATE {collation}")
        present = existing_foreign_key_names(connection)
        for table, clauses in _by_table([(t, d) for t, n, d in saved if (t, n) not in present]).items():
            _execute(connection, f"ALTER TABLE {_quote(table)} " + ", ".join(d for [d] in clauses))
        _execute(connection, f"DROP TABLE {_quote(FOREIGN_KEYS_TABLE)}")
    finally:
        _execute(connection, "SET SESSION foreign_key_checks = 1")
    log(f"schema converted to utf8mb4: {len(tables)} table(s), the schema default, {len(saved)} foreign key(s) added back, "
        f"in {time.monotonic() - started:.0f} s")
    return len(tables)


def database_name(connection):
    return _rows(connection, "SELECT DATABASE()")[0][0]
