#!/bin/sh
# Starts the MLflow tracking server of the task: checks the environment, readies the database schema
# (one task at a time; it migrates only a schema no other release serves, see mlflow_db.py), then replaces itself with `mlflow server`
# listening on 127.0.0.1:5000, reachable only through the auth proxy in the same task.
#
# Environment (set by the CDK stack):
#   BUCKET     artifact root, s3://bucket-name[/prefix]
#   HOST PORT DATABASE USERNAME PASSWORD   Aurora MySQL backend store (USERNAME, PASSWORD: secrets)
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
# loopback): MLFLOW_DB_HELPER (path of mlflow_db.py), MLFLOW_LISTEN_PORT (default 5000).
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

missing=""
for name in BUCKET HOST PORT DATABASE USERNAME PASSWORD MLFLOW_VERSION; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || missing="$missing $name"
done
[ -z "$missing" ] || fail "missing or empty environment variable(s):$missing. BUCKET, HOST, PORT and DATABASE come from the task definition, USERNAME and PASSWORD from the database secret."

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
  shared | users) ;;
  *) fail "MLFLOW_AUTH must be 'shared' or 'users', got '$auth'." ;;
esac
# mlflow_auth.py sits next to mlflow_db.py; MLflow imports its authorization function from there.
MLFLOW_AUTH_HELPER="$(dirname "$MLFLOW_DB_HELPER")/mlflow_auth.py"
if [ "$auth" = users ]; then
  python3 "$MLFLOW_AUTH_HELPER" check || exit $?
fi

case "${MLFLOW_MIGRATE_ONLY:-false}" in
  true)
    python3 "$MLFLOW_DB_HELPER" migrate || exit $?
    echo "mlflow-server: MLFLOW_MIGRATE_ONLY=true: schema migrated to MLflow $MLFLOW_VERSION; exiting without starting the server." >&2
    exit 0
    ;;
  false) ;;
  *) fail "MLFLOW_MIGRATE_ONLY must be 'true' or 'false', got '$MLFLOW_MIGRATE_ONLY'." ;;
esac

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

if [ "$auth" = users ]; then
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
exec mlflow "$@"
