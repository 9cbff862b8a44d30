"""Backend-store helper for the MLflow container's entrypoint (standard library + PyMySQL only).

    python3 mlflow_db.py uri       prints the SQLAlchemy URI of the Aurora MySQL backend store,
                                   built from HOST, PORT, DATABASE, USERNAME and PASSWORD with every
                                   part URL-encoded (passwords may hold @ : / % # and the like)
    python3 mlflow_db.py upgrade   brings the schema up to date before the server starts:
                                   `mlflow db upgrade <uri>` on an existing schema, or a first
                                   initialisation of an empty database, while holding a MySQL named
                                   lock, so that tasks starting together migrate one at a time, then
                                   converts a schema that is not utf8mb4 (mlflow_charset.py); with
                                   MLFLOW_AUTH=users also, under the same lock, creates the permission
                                   database <DATABASE>_auth and runs `mlflow_auth.py bootstrap`
    python3 mlflow_db.py auth-uri  prints the SQLAlchemy URI of that permission database

Settings: MLFLOW_DB_WAIT_SECONDS (default 300) bounds the wait for the database to accept
connections (Aurora Serverless v2 resumes from 0 ACU in seconds) and, separately, for the lock.
DB_READ_TIMEOUT_SECONDS (optional) bounds how long the server waits for any answer on a database connection.
DB_IDLE_DISCONNECT_SECONDS (optional) makes the database close each of MLflow's connections after that
many seconds unused (see backend_store_uri). DB_TLS_CA_FILE (set in the image) makes every connection use
TLS, verified against those CA certificates.
"""

import os
import subprocess
import sys
import time
import urllib.parse

LOCK_NAME = "mlflow-on-aws.schema-upgrade"


def log(message):
    print(f"mlflow-server: {message}", file=sys.stderr, flush=True)


def settings():
    missing = [name for name in ("HOST", "PORT", "DATABASE", "USERNAME", "PASSWORD") if not os.environ.get(name)]
    if missing:
        log(f"missing or empty environment variable(s): {' '.join(missing)}")
        sys.exit(2)
    port = os.environ["PORT"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        log(f"PORT must be a TCP port number, got {port!r}")
        sys.exit(2)
    return {
        "host": os.environ["HOST"],
        "port": int(port),
        "database": os.environ["DATABASE"],
        "user": os.environ["USERNAME"],
        "password": os.environ["PASSWORD"],
    }


def optional_seconds(name, maximum):
    """A whole number of seconds from 1 to `maximum` in the environment variable `name`, or None when it is unset."""
    raw = os.environ.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        log(f"{name} must be a whole number of seconds from 1 to {maximum}, got {raw!r}")
        sys.exit(2)
    return int(raw)


def idle_disconnect_seconds():
    """DB_IDLE_DISCONNECT_SECONDS: the database closes a connection of MLflow's pool after this long unused."""
    return optional_seconds("DB_IDLE_DISCONNECT_SECONDS", 31536000)


def read_timeout_seconds():
    """DB_READ_TIMEOUT_SECONDS: the server gives up on a database connection that sends nothing for this long."""
    return optional_seconds("DB_READ_TIMEOUT_SECONDS", 3600)


def tls_ca_file():
    """DB_TLS_CA_FILE: the CA certificates (PEM) the database's certificate must chain to; the image sets it to the
    Amazon RDS bundle. With it every connection uses TLS and checks the certificate and the host name."""
    path = os.environ.get("DB_TLS_CA_FILE", "")
    if path == "":
        return None
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        log(f"DB_TLS_CA_FILE {path!r} is not a readable file: it must hold the database's CA certificates (PEM)")
        sys.exit(2)
    return path


def auth_database(s):
    """The schema of MLflow's authentication app (users mode): <DATABASE>_auth, in the same MySQL server."""
    name = f"{s['database']}_auth"
    if not all(c.isalnum() or c == "_" for c in name) or len(name) > 64:
        log(f"DATABASE must be letters, digits and underscores, at most 59 of them, for the permission database "
            f"'<DATABASE>_auth' of MLFLOW_AUTH=users; got {s['database']!r}")
        sys.exit(2)
    return name


def auth_mode():
    mode = os.environ.get("MLFLOW_AUTH", "") or "shared"
    if mode not in ("shared", "users"):
        log(f"MLFLOW_AUTH must be 'shared' or 'users', got {mode!r}")
        sys.exit(2)
    return mode


def backend_store_uri(s, server=True):
    """The SQLAlchemy URI; `server`: for `mlflow server` (with the read timeout), else for the schema upgrade, whose
    statements may legitimately run for minutes without a byte on the wire."""
    quote = lambda value: urllib.parse.quote(value, safe="")  # noqa: E731
    host = f"[{s['host']}]" if ":" in s["host"] else s["host"]
    uri = f"mysql+pymysql://{quote(s['user'])}:{quote(s['password'])}@{host}:{s['port']}/{quote(s['database'])}"
    options = {}
    idle = idle_disconnect_seconds()
    if idle is not None:
        # MLflow keeps a pool of connections per worker (SQLAlchemy's default, with pre-ping). Each connection asks the
        # server to close it after `idle` seconds without a statement, so an idle server holds no connection and
        # Aurora Serverless v2 can pause; the pool's pre-ping replaces a closed connection on its next use.
        options["init_command"] = f"SET SESSION wait_timeout = {idle}"
    read_timeout = read_timeout_seconds()
    if server and read_timeout is not None:
        # A database that accepts connections but no longer answers (frozen, partitioned) would otherwise hold a
        # request, and the worker serving it, until the proxy gives up after 300 s: PyMySQL waits forever by default.
        options["read_timeout"] = str(read_timeout)
        options["write_timeout"] = str(read_timeout)
    ca = tls_ca_file()
    if ca is not None:
        # SQLAlchemy hands ssl_ca to PyMySQL, which then requires TLS, a certificate from that CA and the host name.
        options["ssl_ca"] = ca
    return uri + ("?" + urllib.parse.urlencode(options, quote_via=urllib.parse.quote) if options else "")


def wait_seconds():
    raw = os.environ.get("MLFLOW_DB_WAIT_SECONDS", "300")
    if not raw.isdigit():
        log(f"MLFLOW_DB_WAIT_SECONDS must be a whole number of seconds, got {raw!r}")
        sys.exit(2)
    return int(raw)


def connect(s, deadline):
    import pymysql

    ca = tls_ca_file()
    tls = {"ssl": {"ca": ca}} if ca is not None else {}
    if ca is None:
        log("DB_TLS_CA_FILE is not set: connecting to the database without TLS")
    delay = 1
    while True:
        try:
            return pymysql.connect(
                host=s["host"], port=s["port"], user=s["user"], password=s["password"],
                database=s["database"], connect_timeout=10, autocommit=True, **tls,
            )
        except pymysql.err.OperationalError as error:
            if "certificate" in str(error).lower() or "hostname mismatch" in str(error).lower():
                # Waiting does not make an untrusted certificate trusted.
                log(f"database {s['host']}:{s['port']} presented a certificate that DB_TLS_CA_FILE ({ca}) does not "
                    f"trust for that host name: {error}")
                sys.exit(3)
            if time.monotonic() + delay > deadline:
                log(f"database {s['host']}:{s['port']} not reachable: {error}")
                sys.exit(3)
            log(f"database not reachable yet ({error}); retrying in {delay} s")
            time.sleep(delay)
            delay = min(delay * 2, 15)


def scalar(connection, sql, args=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        row = cursor.fetchone()
        return row[0] if row else None


def run_mlflow(args, env=None):
    log("running mlflow " + " ".join(a if "://" not in a else "<backend store URI>" for a in args))
    completed = subprocess.run(["mlflow", *args], env=env, check=False)
    if completed.returncode != 0:
        log(f"mlflow {args[0]} {args[1]} failed with exit code {completed.returncode}")
        sys.exit(completed.returncode)


def upgrade():
    s = settings()
    uri = backend_store_uri(s, server=False)
    wait = wait_seconds()
    connection = connect(s, time.monotonic() + wait)
    try:
        log(f"waiting for the schema lock (at most {wait} s)")
        got = scalar(connection, "SELECT GET_LOCK(%s, %s)", (LOCK_NAME, wait))
        if got != 1:
            log("could not get the schema lock: another task has been migrating for too long, or the lock failed")
            sys.exit(4)
        try:
            tables = scalar(
                connection,
                "SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name NOT LIKE 'alembic%%'",
            )
            if tables == 0:
                # `mlflow db upgrade` expects MLflow's tables to exist (older releases fail on an
                # empty database); opening the store through the CLI creates them at the head revision.
                log("empty database: creating MLflow's tables")
                env = dict(os.environ, MLFLOW_TRACKING_URI=uri)
                run_mlflow(["experiments", "search"], env=env)
            else:
                run_mlflow(["db", "upgrade", uri])
            convert_charset(connection)
            log("database schema is up to date")
            if auth_mode() == "users":
                upgrade_auth(connection, s)
        finally:
            scalar(connection, "SELECT RELEASE_LOCK(%s)", (LOCK_NAME,))
    finally:
        connection.close()


def convert_charset(connection):
    """Under the schema lock, after the migrations: a schema that is not utf8mb4 (the original sample's latin1) is
    converted, foreign keys and all (mlflow_charset.py); a utf8mb4 one is left alone."""
    import pymysql
    import mlflow_charset

    try:
        mlflow_charset.convert(connection, log)
    except pymysql.err.MySQLError as error:
        log(f"converting the schema to utf8mb4 failed: {error}. The next start resumes where this one stopped; "
            "a duplicate entry needs a rename first (docs/migrate-from-sample.md, 'The character set')")
        sys.exit(5)


def upgrade_auth(connection, s):
    """Users mode, under the schema lock: the permission database, its migrations and its admin (mlflow_auth.py)."""
    name = auth_database(s)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    uri = backend_store_uri(dict(s, database=name), server=False)
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlflow_auth.py")
    log(f"bringing the authentication database {name} up to date")
    completed = subprocess.run([sys.executable, helper, "bootstrap"], env=dict(os.environ, MLFLOW_AUTH_DATABASE_URI=uri), check=False)
    if completed.returncode != 0:
        log(f"the authentication database could not be brought up to date (exit code {completed.returncode})")
        sys.exit(completed.returncode)


def main(argv):
    if argv == ["uri"]:
        print(backend_store_uri(settings()))
    elif argv == ["auth-uri"]:
        s = settings()
        print(backend_store_uri(dict(s, database=auth_database(s))))
    elif argv == ["upgrade"]:
        upgrade()
    else:
        log("usage: mlflow_db.py uri|auth-uri|upgrade")
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
