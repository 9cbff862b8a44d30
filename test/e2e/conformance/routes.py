"""Every route the pinned MLflow's server registers, as `mlflow server --app-name basic-auth` builds it under uvicorn:
the FastAPI app's own routes and the Flask app's url_map (mounted under it), with the auth app's routes added. Read
from the apps themselves, never a hand list. Prints JSON: [{"path": rule, "method": METHOD, "app": "flask"|"fastapi"}].

    python routes.py            (run in the e2e environment; needs no server, writes only to a temporary directory)
"""

import json
import os
import sys
import tempfile


def main():
    work = tempfile.mkdtemp(prefix="mlflow-routes-")
    config = os.path.join(work, "auth.ini")
    with open(config, "w") as file:
        file.write("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                   f"database_uri = sqlite:///{work}/auth.db\nadmin_username = admin\n"
                   "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    os.environ.update({
        "MLFLOW_AUTH_CONFIG_PATH": config,
        "_MLFLOW_SGI_NAME": "uvicorn",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "routes",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "routes-password-0123456789",
        "_MLFLOW_SERVER_FILE_STORE": f"sqlite:///{work}/mlflow.db",
        "_MLFLOW_SERVER_ARTIFACT_ROOT": f"{work}/artifacts",
        "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
        "_MLFLOW_SERVER_ARTIFACT_DESTINATION": f"{work}/artifacts",
    })
    import logging

    logging.disable(logging.WARNING)
    from fastapi.routing import APIRoute, APIWebSocketRoute
    from starlette.routing import Mount, Route

    from mlflow.server import app as flask_app
    from mlflow.server.auth import create_app

    asgi = create_app(flask_app)
    routes = set()
    for rule in flask_app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((rule.rule, method, "flask"))

    def walk(items, prefix=""):
        for route in items:
            if isinstance(route, (APIRoute, Route)) and getattr(route, "methods", None):
                for method in route.methods - {"HEAD", "OPTIONS"}:
                    routes.add((prefix + route.path, method, "fastapi"))
            elif isinstance(route, APIWebSocketRoute):
                routes.add((prefix + route.path, "WEBSOCKET", "fastapi"))
            elif hasattr(route, "original_router") and hasattr(route, "include_context"):
                # FastAPI >= 0.16x: include_router keeps the router and its prefix (_IncludedRouter).
                walk(route.original_router.routes, prefix + (route.include_context.prefix or ""))
            elif isinstance(route, Mount):
                # The Flask app is mounted as WSGI at "/": its rules are listed above.
                if getattr(route, "routes", None):
                    walk(route.routes, prefix + route.path)

    walk(asgi.routes)
    json.dump([{"path": p, "method": m, "app": a} for p, m, a in sorted(routes)], sys.stdout, indent=0)


if __name__ == "__main__":
    main()
