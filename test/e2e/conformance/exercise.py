"""Authorization conformance: every route of routes.py, as every role, against resources another user owns.

Reads a JSON job from the file named by its argument:
    {"base": proxy URL, "routes": [{"path", "method", "app"}], "owner": credentials, "granter": role or null,
     "roles": {role: {credentials.., "user_name", "grant": READ|EDIT|MANAGE|null}}}
with credentials any of {"user", "password"} (basic auth), {"headers": {..}}, {"cookies": {name: value}} (sso mode's
session). Creates one set of resources per role (again after a destructive call of that role went through) (an
experiment with a run and a trace, a registered model with a version, a logged model), owned by "owner" and granted to
that role's user at its level (by the owner, or by the "granter" role's session), then sends each route once per role
with the role's own set substituted into path parameters, the query string and a JSON body. Prints JSON
{"<METHOD> <path>": {role: status}}.

Requests carry X-Forwarded-For as the load balancer adds it (MLflow's localhost-only routes then refuse them as in the
task). Destructive routes (DELETE, and paths that delete) are sent last, so that they cannot change what the others see.
Never sent: the assistant's skill installer (it downloads from the internet when it accepts a request).
"""

import json
import re
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

NOT_SENT = re.compile(r"/assistant/skills/install$")
DESTRUCTIVE = re.compile(r"delete|purge|/cancel/|/restore|rename|transition|update-password|update-admin", re.I)
PARAM = re.compile(r"[<{](?:[a-z]+:)?([a-z_]+)(?::[a-z]+)?[>}]")


def main():
    with open(sys.argv[1]) as file:
        job = json.load(file)
    base = job["base"].rstrip("/")

    def session_of(spec):
        session = requests.Session()
        if spec.get("user"):
            session.auth = (spec["user"], spec["password"])
        session.headers.update(spec.get("headers") or {})
        for name, value in (spec.get("cookies") or {}).items():
            # Scoped to the proxy's host, where a renewed cookie (Set-Cookie) would replace it.
            session.cookies.set(name, value, domain=requests.utils.urlparse(base).hostname, path="/")
        session.headers["X-Forwarded-For"] = "10.0.1.23"
        return session

    owner = session_of(job["owner"])

    def ok(response):
        if response.status_code != 200:
            raise SystemExit(f"setup: {response.request.method} {response.url}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def create_resources(role, spec):
        tag = uuid.uuid4().hex[:8]
        experiment_id = ok(owner.post(f"{base}/api/2.0/mlflow/experiments/create", json={"name": f"conformance-{role}-{tag}"}))["experiment_id"]
        run = ok(owner.post(f"{base}/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}))["run"]["info"]
        run_id = run["run_id"]
        model = f"conformance-{role}-{tag}"
        ok(owner.post(f"{base}/api/2.0/mlflow/registered-models/create", json={"name": model}))
        ok(owner.post(f"{base}/api/2.0/mlflow/model-versions/create", json={"name": model, "source": f"runs:/{run_id}/model", "run_id": run_id}))
        ok(owner.post(f"{base}/api/2.0/mlflow/registered-models/alias", json={"name": model, "alias": "champion", "version": "1"}))
        logged = ok(owner.post(f"{base}/api/2.0/mlflow/logged-models", json={"experiment_id": experiment_id, "name": "m"}))
        model_id = logged["model"]["info"]["model_id"]
        trace_id = f"tr-{uuid.uuid4().hex}"
        ok(owner.post(f"{base}/api/3.0/mlflow/traces", json={"trace": {"trace_info": {
            "trace_id": trace_id, "request_time": "2026-12-06T00:00:00Z", "state": "OK",
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}}}}))
        if spec.get("grant"):
            for resource_type, resource_id in (("experiment", experiment_id), ("registered_model", model)):
                ok(granter.post(f"{base}/api/3.0/mlflow/users/permissions/grant", json={
                    "username": spec["user_name"], "resource_type": resource_type, "resource_id": resource_id,
                    "permission": spec["grant"]}))
        return {
            "experiment_id": experiment_id, "run_id": run_id, "run_uuid": run_id, "name": model, "version": "1",
            "alias": "champion", "model_id": model_id, "trace_id": trace_id, "request_id": trace_id,
            "artifact_path": f"{experiment_id}/{run_id}/artifacts/file.txt", "path": "file.txt",
            "username": "conformance-nobody", "key": "k", "value": "v",
        }

    sessions = {}
    resources = {}
    for role, spec in job["roles"].items():
        sessions[role] = session_of(spec)
        if spec.get("user") or spec.get("headers") or spec.get("cookies"):
            # One answer of MLflow's that needs the credentials: the proxy then knows them and no longer counts this
            # role's requests as login attempts (its limits would otherwise pace the sweep to 30 requests a minute); in
            # sso mode MLflow creates the signed-in user at its first request, before anyone can grant it anything.
            ok(sessions[role].get(f"{base}/api/2.0/mlflow/users/current"))
    if job["owner"].get("cookies"):
        ok(owner.get(f"{base}/api/2.0/mlflow/users/current"))
    granter = sessions[job["granter"]] if job.get("granter") else owner
    for role, spec in job["roles"].items():
        resources[role] = create_resources(role, spec)

    def request_for(route, values):
        path = PARAM.sub(lambda m: str(values.get(m.group(1), "x")), route["path"])
        method = route["method"]
        query = {k: values[k] for k in ("experiment_id", "run_id", "run_uuid", "name", "version", "alias", "model_id",
                                         "trace_id", "request_id", "path", "username", "key")}
        if path.endswith("/upload-artifact"):
            # As MLflow's clients send it: the run in run_uuid only (run_id is refused, auth-attacks.test.ts).
            del query["run_id"]
        body = None
        if method in ("POST", "PATCH", "PUT") or (method == "DELETE" and "mlflow-artifacts" not in path):
            body = {**query, "value": "v", "experiment_ids": [values["experiment_id"]], "trace_ids": [values["trace_id"]],
                    "run_ids": [values["run_id"]], "model_ids": [values["model_id"]],
                    "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": values["experiment_id"]}}]}
        return method, base + path, query, body

    routes = sorted(job["routes"], key=lambda r: (bool(DESTRUCTIVE.search(r["path"]) or r["method"] == "DELETE"), r["path"], r["method"]))
    results = {}

    def exercise(route, recreate=False):
        statuses = {}
        for role, session in sessions.items():
            if NOT_SENT.search(route["path"]):
                statuses[role] = "not sent"
                continue
            method, url, query, body = request_for(route, resources[role])
            try:
                try:
                    response = session.request(method, url, params=query, json=body, timeout=20, stream=True)
                except requests.Timeout:
                    # Once more with time to spare: a loaded machine, not the route, is the likelier cause.
                    response = session.request(method, url, params=query, json=body, timeout=90, stream=True)
                statuses[role] = response.status_code
                response.close()
                if recreate and 200 <= response.status_code < 300:
                    # A destructive call went through: this role's next routes get a fresh set.
                    resources[role] = create_resources(role, job["roles"][role])
            except requests.RequestException as error:
                statuses[role] = f"no answer: {type(error).__name__}"
        return f"{route['method']} {route['path']}", statuses

    # Routes in order, each route's roles one after the other; two routes at a time (MLflow has two workers).
    destructive_from = next((i for i, r in enumerate(routes) if DESTRUCTIVE.search(r["path"]) or r["method"] == "DELETE"), len(routes))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for key, statuses in pool.map(exercise, routes[:destructive_from]):
            results[key] = statuses
    for route in routes[destructive_from:]:
        key, statuses = exercise(route, recreate=True)
        results[key] = statuses
    json.dump(results, sys.stdout, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
