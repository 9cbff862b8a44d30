"""Backend-store helper for the MLflow container's entrypoint (standard library + PyMySQL only).

    python3 mlflow_db.py uri       prints the SQLAlchemy URI of the Aurora MySQL backend store,
                                   built from HOST, PORT, DATABASE, USERNAME and PASSWORD with every
                                   part URL-encoded (passwords may hold @ : / % # and the like)
    python3 mlflow_db.py upgrade   readies the schema before the server starts, while holding a MySQL named
                                   lock (tasks starting together take turns): creates MLflow's tables in an
                                   empty database; on an existing one, starts only on the schema revision
                                   this MLflow release expects (see "Who migrates" below); then converts a
                                   schema that is not utf8mb4 (mlflow_charset.py), and creates the project's
                                   indexes that are missing (mlflow_indexes.py); with
                                   MLFLOW_AUTH=users also, under the same lock, creates the permission
                                   database <DATABASE>_auth and runs `mlflow_auth.py bootstrap`
    python3 mlflow_db.py migrate   the upgrade's one-off task (MLFLOW_MIGRATE_ONLY=true in entrypoint.sh):
                                   under the same lock, `mlflow db upgrade <uri>` (or the tables of an empty
                                   database), the users mode's permission database, the marker; no server
    python3 mlflow_db.py auth-uri  prints the SQLAlchemy URI of that permission database

DATABASE_ENGINE=sqlite (default aurora): MLflow's stores are SQLite files in MLFLOW_DB_DIR (default /home/mlflow/db;
only the end-to-end tests change it), mlflow.db and, with MLFLOW_AUTH=users or sso, mlflow-auth.db, which Litestream
restores from and replicates to DATABASE_REPLICA_URL (entrypoint.sh). `uri`, `auth-uri`, `upgrade` and `migrate` do the
same on them, with the same marker and the same refusals and exit codes, through Python's sqlite3; the task is the only
writer (the service runs one task, the upgrade's one-off task runs while none does), so no lock is taken. No character
set conversion (SQLite text is UTF-8) and no project indexes: mlflow_indexes.py's statements and the measurements behind
them are MySQL's (prefix indexes, online DDL, its planner), and SQLite would index params' and tags' values whole,
growing the file and every page Litestream uploads.
    python3 mlflow_db.py litestream-config PATH   validates DATABASE_REPLICA_URL, DATABASE_REPLICA_SYNC_SECONDS (and
                                   the test-only DATABASE_REPLICA_ENDPOINT) and writes Litestream's configuration to PATH
                                   (mode 0600)
    python3 mlflow_db.py sqlite-files              prints the SQLite files Litestream keeps, one a line
    python3 mlflow_db.py writer-wait|writer-claim|writer-release
                                   the replica's writer marker (WRITER_MARKER under DATABASE_REPLICA_URL): a start waits
                                   while another task's marker is there (that task is still stopping: its last upload is
                                   not done), at most DATABASE_WRITER_WAIT_SECONDS (the stack sets the container's stop
                                   timeout and a margin: no task outlives it), then restores, claims the marker, and
                                   releases it once Litestream's last upload is done. A marker left by a task that did
                                   not stop (killed, crashed) is taken over after that wait.

Settings: MLFLOW_DB_WAIT_SECONDS (default 300) bounds the wait for the database to accept
connections (Aurora Serverless v2 resumes from 0 ACU in seconds) and, separately, for the lock.
DB_READ_TIMEOUT_SECONDS (optional) bounds how long the server waits for any answer on a database connection.
DB_IDLE_DISCONNECT_SECONDS (optional) makes the database close each of MLflow's connections after that
many seconds unused (see backend_store_uri). DB_TLS_CA_FILE (set in the image) makes every connection use
TLS, verified against those CA certificates.

Who migrates. MLflow (3.17.0 release notes) requires a schema upgrade with every writer stopped and a restorable
backup, before the new release's servers start: tasks of the old release keep writing during a rolling deploy, and the
old release refuses the migrated schema. So a server's start migrates nothing that another release serves:
- the table MARKER_TABLE records the MLflow release that last created or migrated the schema (and so serves it);
- schema at this release's head revision: start (the marker is set to this release);
- schema behind it, marked by another release: refuse, naming `npx mlflow-on-aws upgrade` (stops every task, takes a
  snapshot, then runs `migrate` once in a one-off task); nothing is changed, so the old release goes on serving;
- schema behind it, not marked (a database this project never ran: a snapshot of the original sample, moved in with
  dbSnapshot, that no other task serves): migrate at start, as before;
- schema at a revision this release does not know (a newer release migrated it, e.g. ECS rolled a failed deploy back to
  the old task definition): refuse, naming `npx mlflow-on-aws upgrade --rollback`, which restores the snapshot taken
  before the upgrade.
The revisions this release knows are read from MLflow's migration scripts in the installed package (no import).
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

LOCK_NAME = "mlflow-on-aws.schema-upgrade"
# One row: the MLflow release that last created or migrated the schema, and the revision it left.
MARKER_TABLE = "mlflow_on_aws_schema"
UPGRADE_COMMAND = "npx mlflow-on-aws upgrade"
ROLLBACK_COMMAND = "npx mlflow-on-aws upgrade --rollback"
# Exit code of a start refused because of the schema's revision (not a failure of the database or of MLflow).
EXIT_SCHEMA_REFUSED = 5

ENGINES = ("aurora", "sqlite")
# database=sqlite: where the files live in the task (its ephemeral storage), their names, and the replica of each, a path
# below DATABASE_REPLICA_URL (src/lib/contract.ts, SQLITE_REPLICA_PREFIX, names the URL's prefix).
SQLITE_DIR = "/home/mlflow/db"
SQLITE_TRACKING = ("mlflow.db", "mlflow")
SQLITE_AUTH = ("mlflow-auth.db", "mlflow-auth")
# How long a connection waits for another one's write lock (the server's workers, Litestream's checkpoints) before
# "database is locked": SQLAlchemy's SQLite driver takes `timeout` from the URI's query (sqlite3.connect's timeout).
SQLITE_BUSY_TIMEOUT_SECONDS = 30
REPLICA_SYNC_SECONDS_DEFAULT = 10
REPLICA_SYNC_SECONDS_MAX = 3600
# How often Litestream looks for level-0 files it may delete (compacted and older than its 5-minute L0 retention). Each
# look lists the replica (two LIST requests per file), writes or not: its default, 15 s, is 480 requests an hour per file
# while a task runs, $1.75 a month for a task always on; 300 s is 24. The cost model prices the same interval
# (src/cost/estimate.ts LITESTREAM_L0_RETENTION_CHECK_SECONDS; test/cost/litestream.test.ts checks they agree).
L0_RETENTION_CHECK_SECONDS = 300
# The writer marker's name under the replica's prefix (src/lib/contract.ts SQLITE_WRITER_MARKER: the CLI leaves it out of
# its copies of the replica; test/containers/container-contract.test.ts checks they agree).
WRITER_MARKER = "writer.json"
WRITER_WAIT_SECONDS_DEFAULT = 150
WRITER_POLL_SECONDS = 2
# What the paths, the bucket and the endpoint may hold: they are written into Litestream's YAML (which also expands
# $VARIABLES) and into SQLAlchemy URIs, so nothing that needs quoting in either.
SAFE_PATH = re.compile(r"\A/[A-Za-z0-9._/-]*\Z")
BUCKET_NAME = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
KEY_PREFIX = re.compile(r"\A[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*\Z")
ENDPOINT = re.compile(r"\Ahttps?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/?\Z")
REGION = re.compile(r"\A[a-z]{2}(?:-[a-z0-9]+)+-[0-9]+\Z")


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
    if mode not in ("shared", "users", "sso"):
        log(f"MLFLOW_AUTH must be 'shared', 'users' or 'sso', got {mode!r}")
        sys.exit(2)
    return mode


def engine():
    value = os.environ.get("DATABASE_ENGINE", "") or "aurora"
    if value not in ENGINES:
        log(f"DATABASE_ENGINE must be 'aurora' or 'sqlite', got {value!r}")
        sys.exit(2)
    return value


def sqlite_dir():
    """MLFLOW_DB_DIR: the folder of the SQLite files (the image's default; the end-to-end tests give each run its own)."""
    path = os.environ.get("MLFLOW_DB_DIR", "") or SQLITE_DIR
    if not SAFE_PATH.match(path) or "//" in path or "/../" in path + "/":
        log(f"MLFLOW_DB_DIR must be an absolute path of letters, digits and . _ - /, got {path!r}")
        sys.exit(2)
    return path.rstrip("/") or "/"


def sqlite_files():
    """(path, replica name) of each SQLite file the task keeps: tracking, and the permission store unless auth=shared."""
    folder = sqlite_dir()
    files = [SQLITE_TRACKING] + ([SQLITE_AUTH] if auth_mode() != "shared" else [])
    return [(os.path.join(folder, name), replica) for name, replica in files]


def sqlite_uri(path):
    return f"sqlite:///{path}?timeout={SQLITE_BUSY_TIMEOUT_SECONDS}"


def replica_settings():
    """DATABASE_REPLICA_URL (s3://bucket/prefix), DATABASE_REPLICA_SYNC_SECONDS, DATABASE_REPLICA_ENDPOINT (tests only:
    an S3-compatible server on loopback) and the region of the task (AWS_REGION, else AWS_DEFAULT_REGION)."""
    url = os.environ.get("DATABASE_REPLICA_URL", "")
    if not url:
        log("missing or empty environment variable(s): DATABASE_REPLICA_URL (with DATABASE_ENGINE=sqlite it comes from "
            "the task definition: s3://<database replica bucket>/<prefix>)")
        sys.exit(2)
    bucket, _, prefix = url[len("s3://"):].partition("/") if url.startswith("s3://") else ("", "", "")
    prefix = prefix.rstrip("/")
    if not BUCKET_NAME.match(bucket) or ".." in bucket or (prefix and not KEY_PREFIX.match(prefix)):
        log(f"DATABASE_REPLICA_URL must be s3://<bucket>/<prefix> (a bucket name, then key parts of letters, digits "
            f"and . _ -), got {url!r}")
        sys.exit(2)
    raw = os.environ.get("DATABASE_REPLICA_SYNC_SECONDS", "") or str(REPLICA_SYNC_SECONDS_DEFAULT)
    if not raw.isdigit() or not 1 <= int(raw) <= REPLICA_SYNC_SECONDS_MAX:
        log(f"DATABASE_REPLICA_SYNC_SECONDS must be a whole number of seconds from 1 to {REPLICA_SYNC_SECONDS_MAX}, "
            f"got {raw!r}")
        sys.exit(2)
    endpoint = os.environ.get("DATABASE_REPLICA_ENDPOINT", "")
    if endpoint and not ENDPOINT.match(endpoint):
        log(f"DATABASE_REPLICA_ENDPOINT must be an http(s)://host[:port] URL, got {endpoint!r}")
        sys.exit(2)
    region = os.environ.get("AWS_REGION", "") or os.environ.get("AWS_DEFAULT_REGION", "")
    if region and not REGION.match(region):
        log(f"AWS_REGION must be a region name such as us-west-2, got {region!r}")
        sys.exit(2)
    return {"bucket": bucket, "prefix": prefix, "sync_seconds": int(raw), "endpoint": endpoint, "region": region}


def replica_s3():
    """An S3 client for the replica bucket (boto3, in the image for MLflow's artifacts), and the marker's key."""
    import boto3  # imported here: the aurora engine never needs it

    replica = replica_settings()
    options = {}
    if replica["endpoint"]:
        options["endpoint_url"] = replica["endpoint"]
    if replica["region"]:
        options["region_name"] = replica["region"]
    return boto3.client("s3", **options), replica["bucket"], replica_key(replica, WRITER_MARKER)


def replica_key(replica, name):
    """The key of `name` below the replica's prefix (DATABASE_REPLICA_URL's path)."""
    return f"{replica['prefix']}/{name}" if replica["prefix"] else name


def writer_marker(client, bucket, key):
    """The marker's content, or None when there is none. Listed, not read: the task role may list its prefix, and a
    GetObject of a missing key without s3:ListBucket on the whole bucket answers 403, not 404."""
    listed = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item.get("Key") == key for item in listed):
        return None
    try:
        return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read() or b"{}")
    except client.exceptions.NoSuchKey:
        return None
    except ValueError:
        return {}


def on_replica(action, bucket, key, call):
    """`call()`, or a one-line error naming the marker and exit 3 (the replica bucket cannot be reached)."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - boto3's errors, credentials included: one line, not a traceback
        log(f"could not {action} the replica's writer marker s3://{bucket}/{key}: {error}")
        sys.exit(3)


def writer_wait():
    raw = os.environ.get("DATABASE_WRITER_WAIT_SECONDS", "") or str(WRITER_WAIT_SECONDS_DEFAULT)
    if not raw.isdigit() or not 0 <= int(raw) <= 3600:
        log(f"DATABASE_WRITER_WAIT_SECONDS must be a whole number of seconds from 0 to 3600, got {raw!r}")
        sys.exit(2)
    client, bucket, key = replica_s3()
    read = lambda: on_replica("read", bucket, key, lambda: writer_marker(client, bucket, key))  # noqa: E731
    deadline = time.monotonic() + int(raw)
    marker = read()
    if marker is None:
        return
    log(f"another task still writes the replica (s3://{bucket}/{key}: {marker.get('writer', '?')} since "
        f"{marker.get('since', '?')}): waiting up to {raw} s for its last upload")
    while marker is not None and time.monotonic() < deadline:
        time.sleep(WRITER_POLL_SECONDS)
        marker = read()
    if marker is None:
        log("the other task has released the replica; restoring")
    else:
        log(f"the writer marker is still there after {raw} s, longer than any task stops: a task that did not stop "
            "(killed or crashed) left it; taking the replica over")
        remove_marker(client, bucket, key)


def writer_claim():
    client, bucket, key = replica_s3()
    body = {"writer": os.uname().nodename, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    on_replica("write", bucket, key, lambda: client.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json"))


def writer_release():
    remove_marker(*replica_s3())


def remove_marker(client, bucket, key):
    on_replica("remove", bucket, key, lambda: client.delete_object(Bucket=bucket, Key=key))


def write_litestream_config(path):
    """Litestream's configuration: each SQLite file and its S3 replica. JSON, which is YAML too (Litestream reads YAML):
    every value is quoted by json.dumps, and the validated values hold no $ for Litestream's variable expansion."""
    replica = replica_settings()
    dbs = []
    for db_path, name in sqlite_files():
        target = {
            "type": "s3",
            "bucket": replica["bucket"],
            "path": replica_key(replica, name),
            # What a crash of the task can lose at most: the writes of the last interval (plus Litestream's 1 s look at
            # the WAL). A stop (SIGTERM) loses nothing: Litestream syncs once more after MLflow has exited.
            "sync-interval": f"{replica['sync_seconds']}s",
        }
        if replica["region"]:
            target["region"] = replica["region"]
        if replica["endpoint"]:
            target["endpoint"] = replica["endpoint"]
            target["force-path-style"] = True
        dbs.append({"path": db_path, "replica": target})
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps({"l0-retention-check-interval": f"{L0_RETENTION_CHECK_SECONDS}s", "dbs": dbs}, indent=2) + "\n")
    os.chmod(path, 0o600)


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


def image_revisions():
    """The schema revisions the installed MLflow knows and its head: read from the `revision` / `down_revision` lines of
    its Alembic scripts (mlflow/store/db_migrations/versions), without importing MLflow."""
    spec = importlib.util.find_spec("mlflow")
    folders = list(spec.submodule_search_locations or []) if spec else []
    versions = os.path.join(folders[0], "store", "db_migrations", "versions") if folders else ""
    parents = {}
    if os.path.isdir(versions):
        for name in sorted(os.listdir(versions)):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(versions, name), encoding="utf-8") as script:
                text = script.read()
            revision = re.search(r"^revision\s*(?::[^=]*)?=\s*['\"]([0-9A-Za-z_]+)['\"]", text, re.M)
            down = re.search(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
            if revision and down:
                parents[revision.group(1)] = re.findall(r"['\"]([0-9A-Za-z_]+)['\"]", down.group(1))
    children = {parent for ups in parents.values() for parent in ups}
    heads = [revision for revision in parents if revision not in children]
    if len(heads) != 1:
        log(f"cannot read the schema revisions of the installed MLflow from {versions or 'its package'} "
            f"({len(parents)} scripts, heads {heads}): refusing to touch the schema")
        sys.exit(2)
    return set(parents), heads[0]


class MysqlSchema:
    """The marker logic's view of the Aurora MySQL schema, through a PyMySQL connection."""

    def __init__(self, connection):
        self.connection = connection

    def scalar(self, sql, args=()):
        return scalar(self.connection, sql, args)

    def execute(self, sql, args=()):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, args)

    def table_exists(self, name):
        return self.scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                           "AND table_name = %s", (name,)) == 1

    def mlflow_table_count(self):
        """MLflow's tables (neither Alembic's nor the marker)."""
        return self.scalar(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name NOT LIKE 'alembic%%' AND table_name <> %s",
            (MARKER_TABLE,),
        )


class SqliteSchema:
    """The same view of a SQLite file (database=sqlite), through Python's sqlite3 in autocommit mode. The statements
    that MySQL and SQLite both take are written once, with PyMySQL's %s placeholders (sqlite3 takes ?)."""

    def __init__(self, connection):
        self.connection = connection

    def scalar(self, sql, args=()):
        row = self.connection.execute(sql.replace("%s", "?"), args).fetchone()
        return row[0] if row else None

    def execute(self, sql, args=()):
        self.connection.execute(sql.replace("%s", "?"), args)

    def table_exists(self, name):
        return self.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = %s", (name,)) == 1

    def mlflow_table_count(self):
        """MLflow's tables: neither Alembic's, the marker, SQLite's own (sqlite_*) nor Litestream's (_litestream_*)."""
        return self.scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'alembic%' AND name <> %s "
            "AND name NOT LIKE 'sqlite!_%' ESCAPE '!' AND name NOT LIKE '!_litestream!_%' ESCAPE '!'",
            (MARKER_TABLE,),
        )


def schema_revision(db):
    """The revision Alembic recorded in the schema, or None."""
    if not db.table_exists("alembic_version"):
        return None
    return db.scalar("SELECT version_num FROM alembic_version")


def marked_release(db):
    """The MLflow release MARKER_TABLE names, or None (a schema this project's tasks never created or migrated)."""
    if not db.table_exists(MARKER_TABLE):
        return None
    return db.scalar(f"SELECT mlflow_version FROM `{MARKER_TABLE}` WHERE id = 1")


def mark(db, release, revision):
    db.execute(f"CREATE TABLE IF NOT EXISTS `{MARKER_TABLE}` (id INT NOT NULL PRIMARY KEY, "
               "mlflow_version VARCHAR(32) NOT NULL, schema_revision VARCHAR(64) NOT NULL, "
               "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)")
    db.execute(f"REPLACE INTO `{MARKER_TABLE}` (id, mlflow_version, schema_revision) VALUES (1, %s, %s)",
               (release, revision))


def this_release():
    return os.environ.get("MLFLOW_VERSION", "") or "(unknown)"


def migrate_schema(db, uri, head):
    """`mlflow db upgrade`, or the tables of an empty database; then marks the schema as this release's."""
    if db.mlflow_table_count() == 0:
        # `mlflow db upgrade` expects MLflow's tables to exist (older releases fail on an
        # empty database); opening the store through the CLI creates them at the head revision.
        log("empty database: creating MLflow's tables")
        env = dict(os.environ, MLFLOW_TRACKING_URI=uri)
        run_mlflow(["experiments", "search"], env=env)
    else:
        run_mlflow(["db", "upgrade", uri])
    mark(db, this_release(), head)
    log(f"database schema is up to date (revision {head}, MLflow {this_release()})")


def refuse_newer(revision, marked):
    log(f"the database schema is at revision {revision}, which MLflow {this_release()} does not know: MLflow "
        f"{marked or 'of a newer release'} migrated it, and this release cannot serve it (nothing was changed). "
        f"To run MLflow {this_release()} on the data as it was before that upgrade: {ROLLBACK_COMMAND} (restores the "
        f"snapshot the upgrade took). To keep the migrated data, deploy mlflowVersion={marked or 'of that release'}.")
    sys.exit(EXIT_SCHEMA_REFUSED)


def with_schema_lock(body):
    """Aurora: `body(db, uri)` while holding the MySQL named lock, then the character set, the indexes and (users or
    sso mode) the permission database, under the same lock."""
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
            body(MysqlSchema(connection), uri)
            convert_charset(connection)
            ensure_indexes(connection)
            if auth_mode() != "shared":
                upgrade_auth(connection, s)
        finally:
            scalar(connection, "SELECT RELEASE_LOCK(%s)", (LOCK_NAME,))
    finally:
        connection.close()


def with_sqlite(body):
    """database=sqlite: `body(db, uri)` on the tracking file (Litestream restored it, or it is new), then (users or sso
    mode) the permission file. No lock: the task is the only one using the files."""
    import sqlite3

    path = os.path.join(sqlite_dir(), SQLITE_TRACKING[0])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        # Litestream replicates the write-ahead log: the file is put in WAL mode (persistent) before anything else.
        connection.execute("PRAGMA journal_mode=WAL")
        body(SqliteSchema(connection), sqlite_uri(path))
    finally:
        connection.close()
    if auth_mode() != "shared":
        bootstrap_auth(sqlite_uri(os.path.join(sqlite_dir(), SQLITE_AUTH[0])), SQLITE_AUTH[0])


def with_database(body):
    if engine() == "sqlite":
        with_sqlite(body)
    else:
        with_schema_lock(body)


def upgrade():
    """Before the server starts (see "Who migrates")."""

    def ready(db, uri):
        known, head = image_revisions()
        revision = schema_revision(db)
        marked = marked_release(db)
        if revision is None:
            migrate_schema(db, uri, head)
        elif revision == head:
            if marked != this_release():
                mark(db, this_release(), head)
            log(f"database schema is at revision {head}, the one MLflow {this_release()} expects")
        elif revision not in known:
            refuse_newer(revision, marked)
        elif marked is None or marked == this_release():
            log(f"database schema at revision {revision}, behind {head}, and no other release's tasks serve it: migrating")
            migrate_schema(db, uri, head)
        else:
            log(f"the database schema is at revision {revision}, served by MLflow {marked}; MLflow {this_release()} "
                f"needs revision {head}. MLflow requires that upgrade with every writer stopped and a backup, so a "
                f"task does not migrate the schema while MLflow {marked} serves it (nothing was changed). Upgrade with "
                f"{UPGRADE_COMMAND}: it stops every task, takes a snapshot, migrates once, then starts MLflow "
                f"{this_release()}.")
            sys.exit(EXIT_SCHEMA_REFUSED)

    with_database(ready)


def migrate():
    """The upgrade's one-off task: migrate the schema to this release, whatever release marked it."""

    def run(db, uri):
        known, head = image_revisions()
        revision = schema_revision(db)
        if revision is not None and revision not in known:
            refuse_newer(revision, marked_release(db))
        log(f"migrating the schema from revision {revision or '(none)'} to {head} (MLflow {this_release()}; "
            f"marked by MLflow {marked_release(db) or '(no release)'})")
        migrate_schema(db, uri, head)

    with_database(run)


def convert_charset(connection):
    """Under the schema lock, after the migrations: a schema that is not utf8mb4 (the original sample's latin1) is
    converted, foreign keys and all (mlflow_charset.py); a utf8mb4 one is left alone."""
    import pymysql
    import mlflow_charset

    try:
        mlflow_charset.convert(connection, log)
    except pymysql.err.MySQLError as error:
        log(f"converting the schema to utf8mb4 failed: {error}. The next start resumes where this one stopped; "
            "a duplicate entry needs a rename first (docs/guides/migrate-from-sample.md, 'The character set')")
        sys.exit(5)


def ensure_indexes(connection):
    """Under the schema lock, after the migrations and the conversion: the project's indexes on MLflow's tables that
    are missing (mlflow_indexes.py; docs/reference/performance.md). Created online; a failure does not stop the start."""
    import mlflow_indexes

    mlflow_indexes.ensure(connection, log)


def upgrade_auth(connection, s):
    """Users mode, under the schema lock: the permission database, its migrations and its admin (mlflow_auth.py)."""
    name = auth_database(s)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    bootstrap_auth(backend_store_uri(dict(s, database=name), server=False), name)


def bootstrap_auth(uri, name):
    """`mlflow_auth.py bootstrap` on the permission database at `uri`: its migrations, the admin, the IAM users."""
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlflow_auth.py")
    log(f"bringing the authentication database {name} up to date")
    completed = subprocess.run([sys.executable, helper, "bootstrap"], env=dict(os.environ, MLFLOW_AUTH_DATABASE_URI=uri), check=False)
    if completed.returncode != 0:
        log(f"the authentication database could not be brought up to date (exit code {completed.returncode})")
        sys.exit(completed.returncode)


def main(argv):
    if argv in (["uri"], ["auth-uri"]) and engine() == "sqlite":
        name = SQLITE_TRACKING[0] if argv == ["uri"] else SQLITE_AUTH[0]
        print(sqlite_uri(os.path.join(sqlite_dir(), name)))
    elif argv == ["uri"]:
        print(backend_store_uri(settings()))
    elif argv == ["auth-uri"]:
        s = settings()
        print(backend_store_uri(dict(s, database=auth_database(s))))
    elif len(argv) == 2 and argv[0] == "litestream-config":
        write_litestream_config(argv[1])
    elif argv == ["sqlite-files"]:
        for path, _ in sqlite_files():
            print(path)
    elif argv == ["writer-wait"]:
        writer_wait()
    elif argv == ["writer-claim"]:
        writer_claim()
    elif argv == ["writer-release"]:
        writer_release()
    elif argv == ["upgrade"]:
        upgrade()
    elif argv == ["migrate"]:
        migrate()
    else:
        log("usage: mlflow_db.py uri|auth-uri|upgrade|migrate|litestream-config PATH|sqlite-files|writer-wait|writer-claim|writer-release")
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
