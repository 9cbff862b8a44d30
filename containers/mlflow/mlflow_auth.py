"""Users mode (MLFLOW_AUTH=users) of the MLflow container: MLflow's own authentication app (`--app-name basic-auth`).

    python3 mlflow_auth.py config     writes the auth app's configuration file (MLFLOW_AUTH_CONFIG_PATH, mode 0600: it
                                      holds the permission database's URI) and prints nothing
    python3 mlflow_auth.py bootstrap  migrates the permission database, creates the admin user from MLFLOW_USERNAME /
                                      MLFLOW_PASSWORD or, when it exists, gives it that password and the admin flag
                                      (so a password changed in the secret takes effect at the next start), and creates
                                      the users IAM principals map to (MLFLOW_IAM_PRINCIPALS). mlflow_db.py runs it while
                                      holding the schema lock, so tasks starting together do this one at a time.
    mlflow_auth:authenticate          the auth app's `authorization_function` (below)

The permission database is its own schema, <DATABASE>_auth, in the same MySQL server (mlflow_db.py creates it); with
DATABASE_ENGINE=sqlite it is the file mlflow-auth.db beside the tracking file, replicated by Litestream like it.

Identity of a request (authenticate): the header X-MLflow-Auth-User when the proxy set it, else HTTP basic auth
checked by MLflow against its user store. The proxy (containers/nginx) sets that header only for a request that came
through the IAM-authorized API Gateway route with the gateway token, and overwrites or removes it on every other
request; MLflow listens on 127.0.0.1 only, so nothing but the proxy of the same task reaches it. As a second fence the
header is believed only for the user names MLFLOW_IAM_PRINCIPALS maps to: a forged header can never name the admin or
a personal account.

SSO mode (MLFLOW_AUTH=sso): the proxy sets X-MLflow-Auth-User to the user oauth2-proxy verified (a session cookie after
sign-in with the identity provider, or the provider's bearer token) and X-MLflow-Auth-Groups to their groups, always
overwriting what a client sent; there is no password path. authenticate() creates the user at their first request,
makes them an admin exactly while they are in MLFLOW_SSO_ADMIN_GROUP, and gives them, on what nobody granted them, the
highest permission of MLFLOW_AUTH_DEFAULT_PERMISSION and their groups' MLFLOW_SSO_GROUP_PERMISSIONS (docs/guides/sso.md). The
admin account of the credentials secret and the IAM principals' users are never taken by a signed-in identity. A
signed-in identity is its MLflow user in lower case (e-mail addresses and the Cognito pool's sign-in names are case
insensitive); an existing MLflow user that differs from it only in case is refused by name (403), never shared.
"""

import hashlib
import hmac
import os
import re
import secrets
import sys

PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")
# Least privilege: a new account, or a leaked personal password, sees no experiment or model it was not granted (or did
# not create: the creator gets MANAGE). Teams that want everyone to read everything set READ.
DEFAULT_PERMISSION = "NO_PERMISSIONS"
USER_HEADER = "X-MLflow-Auth-User"
GROUPS_HEADER = "X-MLflow-Auth-Groups"
# SSO mode: "iam" when the proxy took the user from API Gateway's IAM route, "sso" when oauth2-proxy verified it.
SOURCE_HEADER = "X-MLflow-Auth-Source"
GROUP_NAME = re.compile(r"\A[^\s,=]{1,256}\Z")
PERMISSION_RANK = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
# MLflow's own cache of verified credentials stays off (0): it kept a changed password working up to its TTL on the
# workers that did not handle the change. check_basic_auth below keeps its own, keyed on the stored password hash.
AUTH_CACHE_SECONDS = 0
MAX_USERNAME_BYTES = 128
ARN = re.compile(r"\Aarn:aws(?:-[a-z]+)*:(?:iam::\d{12}:(?:role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]+)\Z")
USERNAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\Z")


def log(message):
    print(f"mlflow-server: {message}", file=sys.stderr, flush=True)


def fail(message):
    log(message)
    sys.exit(2)


def default_permission():
    value = os.environ.get("MLFLOW_AUTH_DEFAULT_PERMISSION", "") or DEFAULT_PERMISSION
    if value not in PERMISSIONS:
        fail(f"MLFLOW_AUTH_DEFAULT_PERMISSION must be one of {', '.join(PERMISSIONS)}, got {value!r}")
    return value


def admin_credentials():
    username = os.environ.get("MLFLOW_USERNAME", "")
    password = os.environ.get("MLFLOW_PASSWORD", "")
    if not username or not password:
        fail("MLFLOW_USERNAME and MLFLOW_PASSWORD (the MLflow credentials secret) are required with MLFLOW_AUTH=users: "
             "they are the admin account of MLflow's authentication app")
    if not USERNAME.match(username):
        fail(f"MLFLOW_USERNAME must be 1 to {MAX_USERNAME_BYTES} letters, digits or . _ @ + - (starting with a letter "
             f"or digit), got {username!r}")
    if len(password) < 12 or len(password.encode()) > 256:
        fail("MLFLOW_PASSWORD must be 12 to 256 bytes long (MLflow's minimum, the proxy's maximum)")
    return username, password


def iam_principals(raw=None):
    """MLFLOW_IAM_PRINCIPALS: entries `ARN=user`, separated by commas or white space. A role ARN stands for every
    session of that role (arn:aws:sts::ACCOUNT:assumed-role/NAME/*), a user ARN for that IAM user. Returns the list of
    (ARN, user) pairs; the proxy reads the same variable (containers/nginx/entrypoint.sh)."""
    raw = os.environ.get("MLFLOW_IAM_PRINCIPALS", "") if raw is None else raw
    pairs = []
    for entry in re.split(r"[\s,]+", raw.strip()):
        if not entry:
            continue
        arn, sep, user = entry.rpartition("=")
        if not sep or not ARN.match(arn) or not USERNAME.match(user):
            fail(f"MLFLOW_IAM_PRINCIPALS: {entry!r} is not ARN=user with an IAM role or user ARN "
                 "(arn:aws:iam::123456789012:role/NAME or :user/NAME) and a user name of letters, digits and . _ @ + -")
        pairs.append((arn, user))
    return pairs


def iam_users():
    return sorted({user for _, user in iam_principals()})


def auth_mode():
    mode = os.environ.get("MLFLOW_AUTH", "") or "shared"
    if mode not in ("shared", "users", "sso"):
        fail(f"MLFLOW_AUTH must be 'shared', 'users' or 'sso', got {mode!r}")
    return mode


def sso_admin_group():
    value = os.environ.get("MLFLOW_SSO_ADMIN_GROUP", "")
    if value and not GROUP_NAME.match(value):
        fail(f"MLFLOW_SSO_ADMIN_GROUP must be one group name without spaces, commas or '=', got {value!r}")
    return value or None


def sso_group_permissions(raw=None):
    """MLFLOW_SSO_GROUP_PERMISSIONS: `group=PERMISSION` entries, separated by commas or white space."""
    raw = os.environ.get("MLFLOW_SSO_GROUP_PERMISSIONS", "") if raw is None else raw
    grants = {}
    for entry in re.split(r"[\s,]+", raw.strip()):
        if not entry:
            continue
        group, sep, permission = entry.rpartition("=")
        if not sep or not GROUP_NAME.match(group) or permission not in PERMISSIONS:
            fail(f"MLFLOW_SSO_GROUP_PERMISSIONS: {entry!r} is not group=PERMISSION with a permission of "
                 f"{', '.join(PERMISSIONS)}")
        grants[group] = permission
    return grants


def sso_permission(groups, default, grants):
    """The permission of a member of `groups` on what nobody granted them: the highest of `default` and the groups'."""
    best = default
    for group in groups:
        permission = grants.get(group)
        if permission is not None and PERMISSION_RANK[permission] > PERMISSION_RANK[best]:
            best = permission
    return best


def auth_database_uri():
    uri = os.environ.get("MLFLOW_AUTH_DATABASE_URI", "")
    if not uri:
        fail("MLFLOW_AUTH_DATABASE_URI is not set (entrypoint.sh sets it from mlflow_db.py auth-uri)")
    return uri


def write_config():
    path = os.environ.get("MLFLOW_AUTH_CONFIG_PATH", "")
    if not path:
        fail("MLFLOW_AUTH_CONFIG_PATH is not set")
    username, _ = admin_credentials()
    # configparser interpolates %: the URL-encoded password in the URI may hold %XX.
    uri = auth_database_uri().replace("%", "%%")
    lines = [
        "[mlflow]",
        f"default_permission = {default_permission()}",
        f"database_uri = {uri}",
        f"admin_username = {username}",
        "authorization_function = mlflow_auth:authenticate",
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}",
        "",
    ]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines))


def create_initial_tables(uri):
    """MLflow's first auth migration (8606fa83a998) names the foreign keys of two tables both `fk_user_id`, which MySQL
    and MariaDB refuse (a constraint name is unique in a schema; MLflow issues 9642 and 10964). On an empty schema this
    creates the same three tables with distinct names; MLflow then treats the schema as one made before it tracked
    revisions, stamps it at that first revision and runs every later migration (none refers to the names)."""
    import sqlalchemy as sa

    engine = sa.create_engine(uri)
    try:
        if "users" in sa.inspect(engine).get_table_names():
            return
        metadata = sa.MetaData()
        sa.Table(
            "users", metadata,
            sa.Column("id", sa.Integer(), nullable=False, primary_key=True),
            sa.Column("username", sa.String(length=255), nullable=True),
            sa.Column("password_hash", sa.String(length=255), nullable=True),
            sa.Column("is_admin", sa.Boolean(), nullable=True),
            sa.UniqueConstraint("username"),
        )
        for table, key, unique in (("experiment_permissions", "experiment_id", "unique_experiment_user"),
                                   ("registered_model_permissions", "name", "unique_name_user")):
            sa.Table(
                table, metadata,
                sa.Column("id", sa.Integer(), nullable=False, primary_key=True),
                sa.Column(key, sa.String(length=255), nullable=False),
                sa.Column("user_id", sa.Integer(), nullable=False),
                sa.Column("permission", sa.String(length=255), nullable=True),
                sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=f"fk_{table}_user_id"),
                sa.UniqueConstraint(key, "user_id", name=unique),
            )
        metadata.create_all(engine)
        log("created the first tables of the authentication database")
    finally:
        engine.dispose()


def bootstrap():
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    username, password = admin_credentials()
    users = iam_users()
    uri = auth_database_uri()
    if uri.startswith("mysql"):
        create_initial_tables(uri)
    store = SqlAlchemyStore()
    store.init_db(uri)  # runs the auth app's own Alembic migrations up to head
    if not store.has_user(username):
        store.create_user(username, password, is_admin=True)
        log(f"created the admin user '{username}' of MLflow's authentication app")
    else:
        if not store.authenticate_user(username, password):
            store.update_user(username, password=password)
            log(f"the admin user '{username}' now has the password of the credentials secret")
        if not store.get_user(username).is_admin:
            store.update_user(username, is_admin=True)
            log(f"'{username}' is an admin again")
    for user in users:
        if user == username:
            continue
        if not store.has_user(user):
            # IAM principals never log in with a password: this one is random and thrown away.
            store.create_user(user, secrets.token_urlsafe(48), is_admin=False)
            log(f"created the user '{user}' for IAM principals")
    log("authentication database is up to date")


def authenticate():
    """`authorization_function` of MLflow's auth app: the proxy's IAM user header, else basic auth; then the guards
    below, for every signed-in caller (the admin included: they keep data consistent, they do not grant)."""
    from flask import request
    from werkzeug.datastructures import Authorization

    from mlflow.server.auth import make_basic_auth_response

    from flask import g

    # MLflow calls this once per request and again in most permission checks: decide once.
    decided = getattr(g, "mlflow_on_aws_authorization", None)
    if decided is not None:
        return decided
    mapped = request.headers.get(USER_HEADER)
    if _mode() == "sso":
        authorization = _sso_identity(mapped, request.headers.get(GROUPS_HEADER, ""), request.headers.get(SOURCE_HEADER, ""))
    elif mapped is not None:
        if mapped in _iam_user_set():
            authorization = Authorization("basic", {"username": mapped, "password": ""})
        else:
            authorization = make_basic_auth_response()
    else:
        authorization = check_basic_auth()
    if isinstance(authorization, Authorization):
        refusal = refused_request()
        if refusal is not None:
            authorization = _bad_request(refusal)
    g.mlflow_on_aws_authorization = authorization
    return authorization


# Verified credentials, per worker: (user name, the stored password hash, an HMAC of the password) -> monotonic expiry.
# The stored hash is read from the database for every request (one indexed row), so a changed password, a deleted
# user or a renamed one takes effect at once on every worker and task; only the scrypt is saved.
_VERIFIED = None
_VERIFIED_MAX = 4096
_VERIFIED_SECONDS = 300
_VERIFIED_KEY = None
_DUMMY_HASH = None


def check_basic_auth():
    """Basic auth against MLflow's user store, instead of MLflow's authenticate_request_basic_auth: the user name must
    equal the stored one byte for byte (the schema's collation would match OUTSIDER, outsîder and "outsider " to
    outsider); a user name nobody has costs the same password hash as a wrong password (no probing by timing); a
    password change takes effect at once on every worker (MLflow's own cache kept the old one up to its TTL)."""
    import collections
    import time

    from flask import request
    from werkzeug.security import check_password_hash, generate_password_hash

    from mlflow.server.auth import _is_disabled_legacy_admin_login, make_basic_auth_response, store
    from mlflow.server.auth.db.models import SqlUser

    global _VERIFIED, _VERIFIED_KEY, _DUMMY_HASH
    authorization = request.authorization
    if authorization is None or authorization.type != "basic":
        return make_basic_auth_response()
    username = authorization.username or ""
    password = authorization.password or ""
    if _VERIFIED is None:
        _VERIFIED = collections.OrderedDict()
        _VERIFIED_KEY = secrets.token_bytes(32)
        # The same hash method as MLflow's stored hashes (werkzeug's default), of a password nobody knows.
        _DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(24))
    with store.ManagedSessionMaker() as session:
        rows = session.query(SqlUser.username, SqlUser.password_hash).filter(SqlUser.username == username).all()
    stored = next((row.password_hash for row in rows if row.username == username and row.password_hash), None)
    key = (username, stored, hmac.new(_VERIFIED_KEY, password.encode(), hashlib.sha256).digest())
    now = time.monotonic()
    if stored is not None and _VERIFIED.get(key, 0) > now:
        return authorization
    valid = check_password_hash(stored or _DUMMY_HASH, password) and stored is not None
    if valid and not _is_disabled_legacy_admin_login(username, password):
        _VERIFIED[key] = now + _VERIFIED_SECONDS
        _VERIFIED.move_to_end(key)
        while len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
        return authorization
    return make_basic_auth_response()


# Guards for requests that MLflow's auth app authorizes on one thing while the handler acts on another (docs/reference/security.md).
# They run in the auth app's before-request hook, on Flask's own parsing of the request (every spelling of a query
# parameter or JSON key the handler would decode), after authentication and before MLflow's permission checks.
UPLOAD_ARTIFACT_RULE = re.compile(r"/mlflow/upload-artifact\Z")
TRACE_RULE = re.compile(r"/mlflow/traces(?:/|\Z)")
MODEL_VERSION_CREATE_RULE = re.compile(r"/mlflow/model-versions/create\Z")
# Tags MLflow's server sets and reads back as storage locations (mlflow.utils.mlflow_tags.IMMUTABLE_TAGS but the user
# tag): MLflow 3.17.2's tag handlers refuse three of them, not mlflow.artifactLocation, and its start and end calls none.
RESERVED_TRACE_TAGS = frozenset({
    "mlflow.artifactLocation",
    "mlflow.trace.spansLocation",
    "mlflow.trace.archiveLocation",
    "mlflow.trace.archivalFailure",
})
# Model-version sources MLflow itself contains in the run or model they name (runs:/, models:/, mlflow-artifacts:/ and
# local paths); any other scheme (s3://, ...) is a storage URI that it serves with the server's credentials unchecked.
CONTAINED_SOURCE_SCHEMES = frozenset({"runs", "models", "mlflow-artifacts", "", "file"})


def refused_request():
    """The reason a request is refused (400), or None. Reads only what the handler of the route would read."""
    from flask import request

    rule = request.url_rule.rule if request.url_rule is not None else ""
    if UPLOAD_ARTIFACT_RULE.search(rule) and "run_id" in request.args:
        # Authorized on run_id (validate_can_update_run_artifact) but written to run_uuid (upload_artifact_handler).
        return "upload-artifact takes the run in run_uuid only; run_id is refused"
    if request.method in ("POST", "PATCH", "DELETE", "PUT") and TRACE_RULE.search(rule):
        body = _request_json()
        key = _reserved_tag_in(body)
        if key is not None:
            return f"the trace tag {key} is set by the server only"
    if request.method == "POST" and MODEL_VERSION_CREATE_RULE.search(rule):
        body = _request_json()
        if isinstance(body, dict):
            return _uncontained_source(body)
    return None


def _request_json():
    from flask import request

    try:
        from mlflow.server.handlers import _get_normalized_request_json

        return _get_normalized_request_json(request)
    except Exception:  # noqa: BLE001: the handler refuses such a body itself
        return None


def _reserved_tag_in(value):
    """A reserved tag key anywhere in a JSON body: as an object key (tags maps) or as the value of a "key" field
    (tag lists, set-tag calls)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in RESERVED_TRACE_TAGS:
                return key
            if key == "key" and item in RESERVED_TRACE_TAGS:
                return item
            found = _reserved_tag_in(item)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _reserved_tag_in(item)
            if found is not None:
                return found
    return None


def _uncontained_source(body):
    """A storage-URI source (s3://...) must lie inside the artifact root of the run (run_id) or logged model (model_id)
    the request names, on which MLflow checks the caller's READ permission: otherwise get-artifact of the new version
    would serve any object the server can read."""
    import urllib.parse

    source = body.get("source")
    if not isinstance(source, str) or not source:
        return None
    scheme = urllib.parse.urlparse(source).scheme.lower()
    if scheme in CONTAINED_SOURCE_SCHEMES:
        return None
    from mlflow.server.handlers import _get_tracking_store, _is_mlflow_artifact_source, _is_uri_within_root

    if _is_mlflow_artifact_source(source):
        return None
    roots = []
    try:
        if body.get("run_id"):
            roots.append(_get_tracking_store().get_run(body["run_id"]).info.artifact_uri)
        if body.get("model_id"):
            roots.append(_get_tracking_store().get_logged_model(body["model_id"]).artifact_location)
    except Exception:  # noqa: BLE001: an unknown run or model contains nothing
        roots = []
    if roots and all(_is_uri_within_root(source, root) for root in roots):
        return None
    return ("a model version's source must be a runs:/, models:/ or mlflow-artifacts:/ URI, or lie inside the artifact "
            "location of the run_id or model_id it names")


def _bad_request(message):
    import json

    from flask import Response

    body = json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": message})
    return Response(body, status=400, mimetype="application/json")


_IAM_USERS = None
_MODE = None
# SSO mode, per worker: a set of groups -> the permission on what nobody granted its members (the settings do not change
# while the server runs).
_SSO_PERMISSIONS = {}
_SSO_PERMISSIONS_MAX = 4096


def _stored_admin_flag(store, user):
    """The user's admin flag in the permission database, None when there is no such user (exact name)."""
    from mlflow.server.auth.db.models import SqlUser

    with store.ManagedSessionMaker() as session:
        rows = session.query(SqlUser.username, SqlUser.is_admin).filter(SqlUser.username == user).all()
    return next((bool(row.is_admin) for row in rows if row.username == user), None)


def _mode():
    global _MODE
    if _MODE is None:
        _MODE = auth_mode()
    return _MODE


def _sso_identity(user, groups_header, source):
    """SSO mode: the proxy's verified user and groups as an MLflow identity. Refuses (401) a request without the user,
    and (403) a signed-in identity named like the admin account of the credentials secret or an IAM principal's user
    (those come from the IAM route only, source "iam"); creates the user, sets their admin flag from the admin group and
    their permission on what nobody granted them from their groups."""
    from flask import g
    from werkzeug.datastructures import Authorization

    from mlflow.server.auth import make_basic_auth_response, store

    if not user:
        return make_basic_auth_response()
    if source == "iam":
        return Authorization("basic", {"username": user, "password": ""}) if user in _iam_user_set() else _forbidden(user)
    if source != "sso" or user in _iam_user_set():
        return _forbidden(user)
    # One identity, one MLflow user, whatever the case the provider reports it in: MariaDB compares user names without
    # case, so "Ada@x" and "ada@x" would be one row to MLflow's permission checks but two to the user table's writes.
    user = user.lower()
    admin_username = os.environ.get("MLFLOW_USERNAME", "")
    if not USERNAME.match(user) or user == admin_username.lower() or user in _iam_user_set_folded():
        return _forbidden(user)
    groups = tuple(sorted({group.strip() for group in groups_header.split(",") if group.strip()}))
    admin_group = sso_admin_group()
    is_admin = admin_group is not None and admin_group in groups
    # The admin flag is compared on every request (one indexed row, as users mode reads the password hash): two
    # sessions of one person with different groups (one from before a change at the provider) each act with their own.
    stored = _stored_admin_flag(store, user)
    if stored is None:
        other = _case_variant(store, user)
        if other is not None:
            return _forbidden(user, f"MLflow already has the user {other!r}, which differs from the signed-in identity "
                                    f"{user!r} only in case: an admin removes or renames it (docs/guides/sso.md)")
        # Signed-in users never use a password: this one is random and thrown away.
        try:
            store.create_user(user, secrets.token_urlsafe(48), is_admin=is_admin)
            log(f"created the user '{user}' at their first signed-in request")
        except Exception:  # noqa: BLE001: another worker created it at the same moment
            if _stored_admin_flag(store, user) is None:
                raise
        stored = _stored_admin_flag(store, user)
    if stored != is_admin:
        store.update_user(user, is_admin=is_admin)
        log(f"'{user}' is {'now' if is_admin else 'no longer'} an admin (group {admin_group!r})")
    key = groups
    permission = _SSO_PERMISSIONS.get(key)
    if permission is None:
        permission = sso_permission(groups, default_permission(), sso_group_permissions())
        if len(_SSO_PERMISSIONS) >= _SSO_PERMISSIONS_MAX:
            _SSO_PERMISSIONS.clear()
        _SSO_PERMISSIONS[key] = permission
    _use_default_permission()
    g.mlflow_on_aws_default_permission = permission
    return Authorization("basic", {"username": user, "password": ""})


def _case_variant(store, user):
    """The name of an MLflow user that differs from `user` only in case, None when there is none."""
    from sqlalchemy import func

    from mlflow.server.auth.db.models import SqlUser

    with store.ManagedSessionMaker() as session:
        rows = session.query(SqlUser.username).filter(func.lower(SqlUser.username) == user.lower()).limit(2).all()
    return next((row.username for row in rows if row.username != user), None)


def _forbidden(user, why=None):
    import json

    from flask import Response

    body = json.dumps({"error_code": "PERMISSION_DENIED",
                       "message": f"the signed-in identity {user!r} cannot be used with MLflow here"
                                  + (f": {why}" if why else "")})
    return Response(body, status=403, mimetype="application/json")


class _RequestDefaultPermission:
    """MLflow's auth configuration with `default_permission` read from the request (SSO mode: from the user's groups,
    set by _sso_identity) when set, the configured one otherwise. MLflow reads `auth_config.default_permission`
    wherever nobody granted the user anything."""

    def __init__(self, config):
        self._config = config

    def __getattr__(self, name):
        if name == "default_permission":
            from flask import g, has_app_context

            if has_app_context():
                value = getattr(g, "mlflow_on_aws_default_permission", None)
                if value is not None:
                    return value
        return getattr(self._config, name)


def _use_default_permission():
    import mlflow.server.auth as auth_app

    if not isinstance(auth_app.auth_config, _RequestDefaultPermission):
        auth_app.auth_config = _RequestDefaultPermission(auth_app.auth_config)


def _iam_user_set():
    global _IAM_USERS
    if _IAM_USERS is None:
        _IAM_USERS = frozenset(iam_users())
    return _IAM_USERS


def _iam_user_set_folded():
    """The IAM principals' users in lower case: a signed-in identity takes none of them in any case."""
    return frozenset(user.lower() for user in _iam_user_set())


def main(argv):
    if argv == ["config"]:
        write_config()
    elif argv == ["bootstrap"]:
        bootstrap()
    elif argv == ["secret-key"]:
        _, password = admin_credentials()
        print(hmac.new(password.encode(), b"mlflow-on-aws flask secret key", hashlib.sha256).hexdigest())
    elif argv == ["check"]:
        admin_credentials()
        default_permission()
        iam_principals()
        if auth_mode() == "sso":
            sso_admin_group()
            sso_group_permissions()
    else:
        fail("usage: mlflow_auth.py check|config|secret-key|bootstrap")


if __name__ == "__main__":
    main(sys.argv[1:])
