#!/bin/sh
# Starts the MLflow tracking server of the task: checks the environment, readies the database schema
# (one task at a time; it migrates only a schema no other release serves, see mlflow_db.py), then replaces itself with `mlflow server`
# listening on 127.0.0.1:5000, reachable only through the auth proxy in the same task. With DATABASE_ENGINE=sqlite it
# first waits for the previous task's writer marker and restores the SQLite files from their replicas, then runs
# Litestream (not exec'd: it passes SIGTERM on), which runs `mlflow server`, replicates the files while it runs and, on
# SIGTERM, stops it and syncs once more before exiting; then it removes the writer marker.
#
# Environment (set by the CDK stack):
#   BUCKET     artifact root, s3://bucket-name[/prefix]
#   DATABASE_ENGINE                        "aurora" (default): the Aurora MySQL backend store below; "sqlite": SQLite
#                                          files on the task's storage (/home/mlflow/db), kept by Litestream in
#                                          DATABASE_REPLICA_URL (docs/reference/containers.md)
#   HOST PORT DATABASE USERNAME PASSWORD   Aurora MySQL backend store (USERNAME, PASSWORD: secrets); aurora only
#   DATABASE_REPLICA_URL                   sqlite: s3://<database replica bucket>/<prefix>; the tracking file is
#                                          replicated to <prefix>/mlflow, the permission file (auth users or sso) to
#                                          <prefix>/mlflow-auth
#   DATABASE_REPLICA_SYNC_SECONDS          sqlite: seconds between Litestream's uploads while MLflow writes, what a crash
#                                          of the task can lose (default 10; 1 to 3600)
#   DATABASE_WRITER_WAIT_SECONDS           sqlite: how long a start waits for the writer marker of a task still
#                                          stopping (its last upload) before it takes the replica over (default 150;
#                                          the stack sets the container's stop timeout and a margin)
#   MLFLOW_WORKERS                         server worker processes (default 2; 1 to 64)
#   MLFLOW_SERVER_ALLOWED_HOSTS            MLflow >= 3.5: Host headers to accept (required there)
#   MLFLOW_SERVER_CORS_ALLOWED_ORIGINS     MLflow >= 3.5: origins for browser cross-origin requests
#   MLFLOW_PROXY_ARTIFACTS                 "true": the server proxies artifacts to BUCKET instead of
#                                          clients reading and writing S3 directly (default false)
#   MLFLOW_VERSION                         set in the image at build time
#   DB_TLS_CA_FILE                         set in the image: the Amazon RDS CA bundle; every database connection
#                                          uses TLS and verifies the certificate and host name against it
#
#   MLFLOW_DB_WAIT_SECONDS                 bound of the wait for the database and, separately, for the schema
#                                          lock (mlflow_db.py; default 300)
#   DB_READ_TIMEOUT_SECONDS                the server gives up on a database connection silent for this long, so
#                                          a database that stops answering yields errors, not hung workers
#   DB_IDLE_DISCONNECT_SECONDS             the database closes each pooled MLflow connection after this many
#                                          seconds unused, so that an idle server holds none and Aurora can pause
#
# Access (docs/guides/access.md; mlflow_auth.py):
#   MLFLOW_AUTH                            "shared" (default): MLflow without authentication, behind the proxy's one
#                                          shared account; "users": MLflow's authentication app (--app-name
#                                          basic-auth), personal accounts and permissions in the schema
#                                          <DATABASE>_auth of the same server, migrated under the schema lock
#                                          (sqlite: the file mlflow-auth.db, replicated like the tracking file)
#                                          "sso": the same app, its users those the proxy's oauth2-proxy verified
#                                          (X-MLflow-Auth-User, X-MLflow-Auth-Groups), created at their first request
#   MLFLOW_SSO_ADMIN_GROUP                 sso mode: members of this provider group are MLflow admins (set on each
#                                          request, so removing someone from the group takes effect at their next
#                                          sign-in or session refresh)
#   MLFLOW_SSO_GROUP_PERMISSIONS           sso mode: "group=PERMISSION" entries (commas or spaces between them): a
#                                          member's permission on experiments and models nobody granted them, the
#                                          highest of their groups' and MLFLOW_AUTH_DEFAULT_PERMISSION
#   MLFLOW_USERNAME MLFLOW_PASSWORD        users mode: the admin account, from the MLflow credentials secret; created at
#                                          the first start, its password reset to the secret's at every start
#   MLFLOW_AUTH_DEFAULT_PERMISSION         users mode: permission of a user on what nobody granted them, one of
#                                          READ, EDIT, MANAGE, NO_PERMISSIONS (default: least privilege, NO_PERMISSIONS)
#   MLFLOW_IAM_PRINCIPALS                  users mode: IAM principals the proxy admits from the IAM-authorized route,
#                                          "ARN=user" entries (commas or spaces between them); their users are created
#
# Read by MLflow itself (set by the CDK stack, passed through unchanged):
#   MLFLOW_SERVER_ENABLE_JOB_EXECUTION     false unless the mlflowBackgroundJobs setting is on: MLflow 3's job
#                                          runner queries the database every minute
#
# Upgrades (docs/guides/upgrading-mlflow.md; mlflow_db.py, "Who migrates"):
#   MLFLOW_MIGRATE_ONLY                    "true": migrate the schema to this image's MLflow under the schema lock
#                                          (`mlflow db upgrade`), then exit 0 without starting the server: the one-off
#                                          task `npx mlflow-on-aws upgrade` runs while every server task is stopped.
#                                          Default "false": the server's start migrates nothing another release serves
#
# Only these may differ from the image defaults (the end-to-end tests use them to run the same files on
# loopback): MLFLOW_DB_HELPER (path of mlflow_db.py), MLFLOW_LISTEN_PORT (default 5000), MLFLOW_DB_DIR (the SQLite
# files' folder, default /home/mlflow/db), DATABASE_REPLICA_ENDPOINT (sqlite: an S3-compatible server instead of
# Amazon S3, addressed path-style).
set -eu

MLFLOW_DB_HELPER="${MLFLOW_DB_HELPER:-/opt/mlflow-server/mlflow_db.py}"
LISTEN_HOST=127.0.0.1
LISTEN_PORT="${MLFLOW_LISTEN_PORT:-5000}"
# How long MLflow keeps an idle keep-alive connection from the proxy. Far longer than the proxy's own 4 s
# (nginx.conf.template, upstream keepalive_timeout), so that the proxy always closes first: were MLflow to close a
# connection the proxy is about to reuse, that request would fail with a 502 (nginx does not retry a POST).
KEEPALIVE_SECONDS=65

fail() {
  echo "mlflow-server: $*" >&2
  exit 2
}

engine="${DATABASE_ENGINE:-aurora}"
case "$engine" in
  aurora | sqlite) ;;
  *) fail "DATABASE_ENGINE must be 'aurora' or 'sqlite', got '$engine'." ;;
esac

missing=""
if [ "$engine" = aurora ]; then
  for name in BUCKET HOST PORT DATABASE USERNAME PASSWORD MLFLOW_VERSION; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || missing="$missing $name"
  done
  [ -z "$missing" ] || fail "missing or empty environment variable(s):$missing. BUCKET, HOST, PORT and DATABASE come from the task definition, USERNAME and PASSWORD from the database secret."
else
  for name in BUCKET DATABASE_REPLICA_URL MLFLOW_VERSION; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || missing="$missing $name"
  done
  [ -z "$missing" ] || fail "missing or empty environment variable(s):$missing. With DATABASE_ENGINE=sqlite, BUCKET and DATABASE_REPLICA_URL come from the task definition."
fi

case "$BUCKET" in
  s3://?*) ;;
  *) fail "BUCKET must be an S3 URL such as s3://my-bucket, got '$BUCKET'." ;;
esac

workers="${MLFLOW_WORKERS:-2}"
case "$workers" in
  '' | *[!0-9]*) fail "MLFLOW_WORKERS must be a whole number from 1 to 64, got '$workers'." ;;
esac
if [ "$workers" -lt 1 ] || [ "$workers" -gt 64 ]; then
  fail "MLFLOW_WORKERS must be a whole number from 1 to 64, got '$workers'."
fi

# MLFLOW_VERSION is X.Y.Z; MLflow 3.5 added the Host/CORS security middleware and its options.
major="${MLFLOW_VERSION%%.*}"
minor="${MLFLOW_VERSION#*.}"
minor="${minor%%.*}"
case "$major$minor" in
  '' | *[!0-9]*) fail "MLFLOW_VERSION must look like 3.13.0, got '$MLFLOW_VERSION'." ;;
esac
has_security_middleware=false
if [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 5 ]; }; then
  has_security_middleware=true
  [ -n "${MLFLOW_SERVER_ALLOWED_HOSTS:-}" ] || fail "MLFLOW_SERVER_ALLOWED_HOSTS is required with MLflow $MLFLOW_VERSION: behind API Gateway and the load balancer the Host header is not localhost, and MLflow would answer 403 to every request."
fi

auth="${MLFLOW_AUTH:-shared}"
case "$auth" in
  shared | users | sso) ;;
  *) fail "MLFLOW_AUTH must be 'shared', 'users' or 'sso', got '$auth'." ;;
esac
# mlflow_auth.py sits next to mlflow_db.py; MLflow imports its authorization function from there.
MLFLOW_AUTH_HELPER="$(dirname "$MLFLOW_DB_HELPER")/mlflow_auth.py"
if [ "$auth" != shared ]; then
  python3 "$MLFLOW_AUTH_HELPER" check || exit $?
fi

migrate_only="${MLFLOW_MIGRATE_ONLY:-false}"
case "$migrate_only" in
  true | false) ;;
  *) fail "MLFLOW_MIGRATE_ONLY must be 'true' or 'false', got '$MLFLOW_MIGRATE_ONLY'." ;;
esac

# One word of a command line for Litestream's -exec, which splits it with go-shellwords (no shell runs it): the
# argument in single quotes, each ' in it written '\''.
exec_word() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# The command line of the arguments, each one word for -exec.
exec_line() {
  line=""
  for word in "$@"; do
    line="$line${line:+ }$(exec_word "$word")"
  done
  printf '%s' "$line"
}

if [ "$engine" = sqlite ]; then
  # Litestream's configuration (mlflow_db.py validates the replica's settings), then each file restored from its replica
  # when the replica exists and the file does not (the task's storage is new at every start).
  litestream_config="${HOME:-/home/mlflow}/litestream.yml"
  python3 "$MLFLOW_DB_HELPER" litestream-config "$litestream_config" || exit $?
  sqlite_files="$(python3 "$MLFLOW_DB_HELPER" sqlite-files)" || exit $?
  # One writer of the replica: a task still stopping (its last upload not done) keeps its marker there; wait for it.
  python3 "$MLFLOW_DB_HELPER" writer-wait || exit $?
  for file in $sqlite_files; do
    litestream restore -config "$litestream_config" -if-replica-exists -if-db-not-exists "$file" \
      || { echo "mlflow-server: could not restore $file from its replica in $DATABASE_REPLICA_URL (Litestream's message above)." >&2; exit 3; }
  done
fi

# database=sqlite: claims the replica's writer marker, runs `litestream replicate -exec LINE` and releases the marker
# once Litestream, after its last upload, has exited (a start refused before this point claims nothing). Not exec'd, so
# that the marker goes after it: SIGTERM (ECS's stop) and SIGINT are passed on to Litestream, which passes them to its
# child and uploads once more. Returns Litestream's exit code.
replicate_then_release() {
  python3 "$MLFLOW_DB_HELPER" writer-claim || return $?
  litestream replicate -config "$litestream_config" -exec "$1" &
  replicator=$!
  trap 'kill -TERM "$replicator" 2>/dev/null' TERM
  trap 'kill -INT "$replicator" 2>/dev/null' INT
  replicated=0
  wait "$replicator" || replicated=$?
  # A trapped signal ends `wait` early: wait again until Litestream itself has exited.
  while kill -0 "$replicator" 2>/dev/null; do
    replicated=0
    wait "$replicator" || replicated=$?
  done
  trap - TERM INT
  python3 "$MLFLOW_DB_HELPER" writer-release \
    || echo "mlflow-server: could not remove the replica's writer marker; the next start waits for it (DATABASE_WRITER_WAIT_SECONDS)." >&2
  return "$replicated"
}

if [ "$migrate_only" = true ]; then
  if [ "$engine" = sqlite ]; then
    # The migration runs under Litestream, which syncs the migrated files before it exits. Litestream exits 1 whatever
    # the migration's exit code was: the code goes through a file so that a refusal still exits 5.
    status_file="$(dirname "$litestream_config")/migrate-status"
    rm -f "$status_file"
    # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments.
    migrate_line="$(exec_line sh -c 'python3 "$1" migrate; status=$?; echo "$status" >"$2"; exit "$status"' mlflow-migrate "$MLFLOW_DB_HELPER" "$status_file")"
    replicated=0
    replicate_then_release "$migrate_line" || replicated=$?
    status="$(cat "$status_file" 2>/dev/null || true)"
    [ -n "$status" ] || { echo "mlflow-server: Litestream did not run the migration (exit code $replicated, its message above)." >&2; exit "$((replicated == 0 ? 1 : replicated))"; }
    [ "$status" -eq 0 ] || exit "$status"
    [ "$replicated" -eq 0 ] || { echo "mlflow-server: the schema was migrated but Litestream's last sync of the replica failed (exit code $replicated, its message above); run the upgrade again." >&2; exit "$replicated"; }
  else
    python3 "$MLFLOW_DB_HELPER" migrate || exit $?
  fi
  echo "mlflow-server: MLFLOW_MIGRATE_ONLY=true: schema migrated to MLflow $MLFLOW_VERSION; exiting without starting the server." >&2
  exit 0
fi

backend_store_uri="$(python3 "$MLFLOW_DB_HELPER" uri)" || exit $?
python3 "$MLFLOW_DB_HELPER" upgrade || exit $?

set -- server \
  --host "$LISTEN_HOST" \
  --port "$LISTEN_PORT" \
  --workers "$workers" \
  --backend-store-uri "$backend_store_uri"

if [ "${MLFLOW_PROXY_ARTIFACTS:-false}" = "true" ]; then
  # The server reads and writes artifacts for the clients (they need no S3 access); every byte then
  # passes through API Gateway (10 MB limit per request) or the load balancer.
  set -- "$@" --serve-artifacts --artifacts-destination "$BUCKET"
else
  # Clients write and read artifacts in S3 directly with their own AWS credentials (the default).
  set -- "$@" --no-serve-artifacts --default-artifact-root "$BUCKET"
fi

if [ "$auth" != shared ]; then
  # The auth app's configuration holds the permission database's URI (with the database password): readable by this
  # user only. MLflow's CSRF key for its sign-up form must be the same in every worker and task: derived from the
  # admin password, so it changes when that does.
  MLFLOW_AUTH_DATABASE_URI="$(python3 "$MLFLOW_DB_HELPER" auth-uri)" || exit $?
  MLFLOW_AUTH_CONFIG_PATH="${HOME:-/home/mlflow}/mlflow-auth.ini"
  export MLFLOW_AUTH_DATABASE_URI MLFLOW_AUTH_CONFIG_PATH
  python3 "$MLFLOW_AUTH_HELPER" config || exit $?
  MLFLOW_FLASK_SERVER_SECRET_KEY="$(python3 "$MLFLOW_AUTH_HELPER" secret-key)" || exit $?
  PYTHONPATH="$(dirname "$MLFLOW_AUTH_HELPER")${PYTHONPATH:+:$PYTHONPATH}"
  export MLFLOW_FLASK_SERVER_SECRET_KEY PYTHONPATH
  unset MLFLOW_AUTH_DATABASE_URI MLFLOW_PASSWORD
  set -- "$@" --app-name basic-auth
fi

if [ "$has_security_middleware" = true ]; then
  # "localhost" is kept allowed so that local probes (the proxy's health check) always pass.
  set -- "$@" --uvicorn-opts "--timeout-keep-alive $KEEPALIVE_SECONDS" --allowed-hosts "$MLFLOW_SERVER_ALLOWED_HOSTS,localhost"
  if [ -n "${MLFLOW_SERVER_CORS_ALLOWED_ORIGINS:-}" ]; then
    set -- "$@" --cors-allowed-origins "$MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"
  fi
else
  # Before 3.5 MLflow serves with gunicorn, whose 30 s default timeout would kill a worker during a
  # long search; the proxy waits up to 300 s.
  set -- "$@" --gunicorn-opts "--timeout 300 --keep-alive $KEEPALIVE_SECONDS"
fi

echo "mlflow-server: starting MLflow $MLFLOW_VERSION on $LISTEN_HOST:$LISTEN_PORT with $workers worker(s), artifacts in $BUCKET, access: $auth." >&2
if [ "$engine" = sqlite ]; then
  # Litestream runs MLflow as its child and replicates while it runs; on SIGTERM it passes the signal on, waits for
  # MLflow to exit, then syncs the files once more before it exits itself; then the writer marker goes.
  replicated=0
  replicate_then_release "$(exec_line mlflow "$@")" || replicated=$?
  exit "$replicated"
fi
exec mlflow "$@"
