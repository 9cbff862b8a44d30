#!/bin/sh
# Starts the MLflow auth proxy: builds the basic-auth credentials file from MLFLOW_USERNAME and
# MLFLOW_PASSWORD (injected by ECS from Secrets Manager, never baked into the image), renders the
# nginx configuration and replaces itself with nginx in the foreground.
#
# Environment (set by the CDK stack):
#   MLFLOW_USERNAME MLFLOW_PASSWORD   shared mode: the one account the proxy checks (the credentials secret)
#   MLFLOW_AUTH                       "shared" (default): the proxy checks the password above; "users": MLflow's
#                                     authentication app checks personal accounts, the proxy passes the
#                                     Authorization header on, refusing malformed and over-long credentials and
#                                     limiting attempts MLflow did not accept
#   MLFLOW_GATEWAY_TOKEN              the IAM route's per-deployment token (a secret, at least 32 characters);
#                                     unset: no request is taken for an IAM principal
#   MLFLOW_IAM_PRINCIPALS             "ARN=user" entries (commas or spaces between them) the IAM route admits: a
#                                     role ARN admits that role's sessions, a user ARN that IAM user
#
# Usage: entrypoint.sh             start nginx in the foreground
#        entrypoint.sh --check-config   only render and check the configuration (nginx -t)
#
# Only the settings below may differ from the image defaults (the tests use them to run the same
# files on a loopback port); everything else is in the shipped template.
set -eu

NGINX_LISTEN_PORT="${NGINX_LISTEN_PORT:-80}"
MLFLOW_UPSTREAM="${MLFLOW_UPSTREAM:-127.0.0.1:5000}"
NGINX_RUN_DIR="${NGINX_RUN_DIR:-/run/mlflow-proxy}"
NGINX_WORKER_USER="${NGINX_WORKER_USER:-nginx}"
NGINX_TEMPLATE="${NGINX_TEMPLATE:-/etc/nginx/mlflow-proxy.conf.template}"
NGINX_PERL_LIB="${NGINX_PERL_LIB:-/etc/nginx/perl}"
export NGINX_LISTEN_PORT MLFLOW_UPSTREAM NGINX_RUN_DIR NGINX_WORKER_USER NGINX_PERL_LIB

# SHA-512 crypt. 5000 rounds is glibc's default and 5x the work of the seed's MD5-crypt per guess
# for an attacker holding the file; the proxy pays it at most once per request, in MlflowAuth.pm
# (see docs/reference/containers.md).
HASH_ROUNDS=5000
# Longest credentials, in bytes (UTF-8 bytes, not characters). MlflowAuth.pm refuses longer ones in
# requests without hashing them (SHA-512-crypt's cost grows with the password's length, and crypt(3)
# refuses passwords of 512 bytes or more outright), so a longer configured one could never log in.
MAX_USERNAME_BYTES=128
MAX_PASSWORD_BYTES=256

fail() {
  echo "mlflow-proxy: $*" >&2
  exit 1
}

MLFLOW_AUTH="${MLFLOW_AUTH:-shared}"
case "$MLFLOW_AUTH" in
  shared | users) ;;
  *) fail "MLFLOW_AUTH must be 'shared' or 'users', got '$MLFLOW_AUTH'." ;;
esac
export MLFLOW_AUTH

# Attempt limits (nginx.conf.template), sized to what a failed attempt costs. Shared mode: one SHA-512-crypt in the
# proxy (~2 ms of CPU). Users mode: one scrypt in MLflow (werkzeug's scrypt:32768:8:1, ~140 ms of CPU), seventy times
# more, so about a fifth of the rate: at most ~2 checks a second overall, about a quarter of a vCPU.
if [ "$MLFLOW_AUTH" = users ]; then
  NGINX_CLIENT_ATTEMPT_RATE=30r/m NGINX_CLIENT_ATTEMPT_BURST=4 NGINX_CLIENT_ATTEMPT_DELAY=2
  NGINX_OVERALL_ATTEMPT_RATE=2r/s NGINX_OVERALL_ATTEMPT_BURST=6 NGINX_OVERALL_ATTEMPT_DELAY=3
else
  NGINX_CLIENT_ATTEMPT_RATE=2r/s NGINX_CLIENT_ATTEMPT_BURST=10 NGINX_CLIENT_ATTEMPT_DELAY=5
  NGINX_OVERALL_ATTEMPT_RATE=10r/s NGINX_OVERALL_ATTEMPT_BURST=20 NGINX_OVERALL_ATTEMPT_DELAY=10
fi
export NGINX_CLIENT_ATTEMPT_RATE NGINX_CLIENT_ATTEMPT_BURST NGINX_CLIENT_ATTEMPT_DELAY
export NGINX_OVERALL_ATTEMPT_RATE NGINX_OVERALL_ATTEMPT_BURST NGINX_OVERALL_ATTEMPT_DELAY

# Shared mode: the one account the proxy checks. Users mode: MLflow checks passwords, the proxy keeps none (its
# credentials file stays empty) and ignores these two.
if [ "$MLFLOW_AUTH" = shared ]; then
  [ -n "${MLFLOW_USERNAME:-}" ] || fail "MLFLOW_USERNAME is missing or empty: set it from the credentials secret (key 'username')."
  [ -n "${MLFLOW_PASSWORD:-}" ] || fail "MLFLOW_PASSWORD is missing or empty: set it from the credentials secret (key 'password')."
  case "$MLFLOW_USERNAME" in
    *:*) fail "MLFLOW_USERNAME must not contain ':' (it separates user and password in basic auth)." ;;
  esac
  newline='
'
  case "$MLFLOW_USERNAME$MLFLOW_PASSWORD" in
    *"$newline"*) fail "MLFLOW_USERNAME and MLFLOW_PASSWORD must be a single line each." ;;
  esac
  # printf is a shell builtin: the password does not appear on a command line.
  username_bytes=$(printf '%s' "$MLFLOW_USERNAME" | wc -c)
  password_bytes=$(printf '%s' "$MLFLOW_PASSWORD" | wc -c)
  [ "$username_bytes" -le "$MAX_USERNAME_BYTES" ] || fail "MLFLOW_USERNAME is $username_bytes bytes long; the proxy accepts at most $MAX_USERNAME_BYTES bytes."
  [ "$password_bytes" -le "$MAX_PASSWORD_BYTES" ] || fail "MLFLOW_PASSWORD is $password_bytes bytes long; the proxy accepts at most $MAX_PASSWORD_BYTES bytes (UTF-8), because it refuses longer passwords in requests without hashing them. Use a shorter password in the credentials secret."
fi
[ -r "$NGINX_TEMPLATE" ] || fail "nginx configuration template $NGINX_TEMPLATE is not readable."

umask 027
mkdir -p "$NGINX_RUN_DIR"
NGINX_WORKER_GROUP="$(id -gn "$NGINX_WORKER_USER" 2>/dev/null)" || fail "unknown worker user $NGINX_WORKER_USER."
export NGINX_WORKER_GROUP
worker_group=""
if [ "$(id -u)" = 0 ]; then
  # nginx's workers (not the master) check credentials: the worker group may read the run
  # directory and the credentials file, nobody else may.
  worker_group="$NGINX_WORKER_GROUP"
  chown "root:$worker_group" "$NGINX_RUN_DIR"
  chmod 0750 "$NGINX_RUN_DIR"
fi

# Shared mode: crypt(3) with a random 16-character salt. Perl (perl-base is part of every Debian image) reads
# the password from the environment, so it never appears on a command line. Users mode: an empty file.
htpasswd_tmp="$NGINX_RUN_DIR/htpasswd.tmp"
if [ "$MLFLOW_AUTH" = users ]; then
  : > "$htpasswd_tmp"
else
  HASH_ROUNDS="$HASH_ROUNDS" perl -e '
  my @alphabet = ("a".."z", "A".."Z", "0".."9", ".", "/");
  open(my $random, "<", "/dev/urandom") or die "cannot read /dev/urandom: $!\n";
  read($random, my $bytes, 16) == 16 or die "short read from /dev/urandom\n";
  my $salt = join "", map { $alphabet[ord($_) % 64] } split //, $bytes;
  my $hash = crypt($ENV{MLFLOW_PASSWORD}, "\$6\$rounds=$ENV{HASH_ROUNDS}\$$salt\$");
  defined $hash && $hash =~ /^\$6\$/ or die "crypt(3) does not support SHA-512 here\n";
  print "$ENV{MLFLOW_USERNAME}:$hash\n";
  ' > "$htpasswd_tmp" || fail "could not hash the password."
fi

[ -z "$worker_group" ] || chown "root:$worker_group" "$htpasswd_tmp"
chmod 0640 "$htpasswd_tmp"
mv -f "$htpasswd_tmp" "$NGINX_RUN_DIR/htpasswd"

# nginx's auth_basic reads this empty file, never the credentials file: MlflowAuth.pm has already
# decided, and auth_basic only turns a refusal into the 401 challenge, finding no user to hash for.
: > "$NGINX_RUN_DIR/rejected-by-MlflowAuth"
[ -z "$worker_group" ] || chown "root:$worker_group" "$NGINX_RUN_DIR/rejected-by-MlflowAuth"
chmod 0640 "$NGINX_RUN_DIR/rejected-by-MlflowAuth"

# The IAM route: the gateway token and the principal map, for MlflowAuth::iam (one "ARN user" a line).
# Perl validates: a bad entry stops the proxy here rather than admitting the wrong principal later.
rm -f "$NGINX_RUN_DIR/gateway-token" "$NGINX_RUN_DIR/iam-principals"
if [ -n "${MLFLOW_GATEWAY_TOKEN:-}" ] || [ -n "${MLFLOW_IAM_PRINCIPALS:-}" ]; then
  perl -e '
    my $token = $ENV{MLFLOW_GATEWAY_TOKEN} // "";
    length($token) >= 32 && length($token) <= 256 && $token =~ /\A[\x21-\x7e]+\z/
      or die "MLFLOW_GATEWAY_TOKEN must be 32 to 256 printable ASCII characters without spaces when MLFLOW_IAM_PRINCIPALS is set; got " . length($token) . " characters\n";
    my @lines;
    for my $entry (split /[\s,]+/, $ENV{MLFLOW_IAM_PRINCIPALS} // "") {
      next unless length $entry;
      my ($arn, $user) = $entry =~ /\A(.+)=([^=]+)\z/;
      defined $user && $arn =~ m{\Aarn:aws(?:-[a-z]+)*:iam::\d{12}:(?:role|user)/(?:[\w+=,.\@-]+/)*[\w+=,.\@-]+\z} && $user =~ /\A[A-Za-z0-9][A-Za-z0-9._\@+-]{0,127}\z/
        or die "MLFLOW_IAM_PRINCIPALS: \"$entry\" is not ARN=user with an IAM role or user ARN (arn:aws:iam::123456789012:role/NAME or :user/NAME) and a user name of letters, digits and . _ @ + -\n";
      push @lines, "$arn $user\n";
    }
    open(my $t, ">", "$ENV{NGINX_RUN_DIR}/gateway-token.tmp") or die "$!\n";
    print $t "$token\n";
    close $t;
    open(my $p, ">", "$ENV{NGINX_RUN_DIR}/iam-principals.tmp") or die "$!\n";
    print $p @lines;
    close $p;
    print STDERR "mlflow-proxy: the IAM route admits " . scalar(@lines) . " principal(s).\n";
  ' || fail "could not set up the IAM route."
  for file in gateway-token iam-principals; do
    [ -z "$worker_group" ] || chown "root:$worker_group" "$NGINX_RUN_DIR/$file.tmp"
    chmod 0640 "$NGINX_RUN_DIR/$file.tmp"
    mv -f "$NGINX_RUN_DIR/$file.tmp" "$NGINX_RUN_DIR/$file"
  done
fi
unset MLFLOW_GATEWAY_TOKEN

# shellcheck disable=SC2016 # the single quotes are intended: envsubst gets the variable names.
envsubst '${NGINX_LISTEN_PORT} ${MLFLOW_UPSTREAM} ${NGINX_RUN_DIR} ${NGINX_WORKER_USER} ${NGINX_WORKER_GROUP} ${NGINX_PERL_LIB} ${MLFLOW_AUTH} ${NGINX_CLIENT_ATTEMPT_RATE} ${NGINX_CLIENT_ATTEMPT_BURST} ${NGINX_CLIENT_ATTEMPT_DELAY} ${NGINX_OVERALL_ATTEMPT_RATE} ${NGINX_OVERALL_ATTEMPT_BURST} ${NGINX_OVERALL_ATTEMPT_DELAY}' \
  < "$NGINX_TEMPLATE" > "$NGINX_RUN_DIR/nginx.conf"

# The password is only needed in hashed form from here on.
unset MLFLOW_PASSWORD
if [ "${1:-}" = "--check-config" ]; then
  exec nginx -t -q -e stderr -c "$NGINX_RUN_DIR/nginx.conf"
fi
echo "mlflow-proxy: access mode $MLFLOW_AUTH; starting nginx on port $NGINX_LISTEN_PORT, upstream $MLFLOW_UPSTREAM." >&2
exec nginx -e stderr -c "$NGINX_RUN_DIR/nginx.conf" -g 'daemon off;'
