"""API Gateway's IAM route of the MLflow gateway, on loopback: it checks each request's SigV4 signature and forwards
the request to the proxy as the route's integration does.

usage: python lab_gateway_standin.py --port P --upstream HOST:PORT --principals FILE --token-file FILE --log FILE
       [--region us-west-2]

The signature check is written from AWS's documented algorithm (IAM User Guide, "Create a signed AWS API request":
canonical request, string to sign, signing key), not from any signer's code; it recomputes the canonical request
from the request as received, the way the service does:
- CanonicalURI: the received path, decoded, each segment URI-encoded twice (every service but S3), "/" when empty;
- CanonicalQueryString: each name and value decoded (RFC 3986: "+" is a plus sign) and URI-encoded, with every
  repeated parameter kept, sorted by name and then by value, "name=value" pairs joined with "&";
- CanonicalHeaders: the signed headers' values as received, trimmed, inner spaces collapsed; host must be signed;
- HashedPayload: SHA-256 of the received body.
URI-encoding keeps A-Z, a-z, 0-9, "-", "_", ".", "~" and writes every other byte of the UTF-8 form as %XY (upper
case). The credential scope must be <date>/<region>/execute-api/aws4_request, X-Amz-Date within 15 minutes, and
the access key one of --principals ({"<access key>": {"secret": ..., "token": ..., "arn": ...}}), whose session
token must come in X-Amz-Security-Token. A failed check answers 403 as API Gateway does.

What the route's integration does (src/lib/gateway/http-gateway.ts, addIamRoute): only ``/iam/{proxy+}`` exists; the
path is overwritten with ``/$request.path.proxy`` (the received path after "/iam/", as received), the query kept,
X-MLflow-IAM-Principal overwritten with the caller's ARN (``$context.identity.userArn``) and X-MLflow-Gateway-Token
with the deployment's token. Each request's verdict is appended to --log as a JSON line (method, target, verdict,
canonical request, upstream status).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/iam/"
SERVICE = "execute-api"
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"}


def uri_encode(text: str) -> str:
    return "".join(chr(byte) if byte in UNRESERVED else f"%{byte:02X}" for byte in text.encode("utf-8"))


def uri_decode(text: str) -> str:
    """Percent-decoding of RFC 3986 (a "+" stays a plus sign); malformed escapes stay as they are."""
    out = bytearray()
    raw = text.encode("utf-8")
    i = 0
    while i < len(raw):
        escape = raw[i + 1 : i + 3]
        if raw[i] == 0x25 and len(escape) == 2 and all(chr(c) in "0123456789abcdefABCDEF" for c in escape):
            out.append(int(escape, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


def remove_dot_segments(segments: list[str]) -> list[str]:
    kept: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    return kept


def canonical_uri(raw_path: str) -> str:
    segments = remove_dot_segments([uri_decode(segment) for segment in raw_path.split("/")[1:]])
    return "/" + "/".join(uri_encode(uri_encode(segment)) for segment in segments)


def canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        pairs.append((uri_encode(uri_decode(name)), uri_encode(uri_decode(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def canonical_request(method: str, target: str, by_name: dict[str, list[str]], signed_headers: list[str], body: bytes) -> str:
    path, _, query = target.partition("?")
    canonical_headers = "".join(f"{name}:{','.join(' '.join(v.split()) for v in by_name[name])}\n" for name in signed_headers)
    return "\n".join([
        method,
        canonical_uri(path),
        canonical_query(query),
        canonical_headers,
        ";".join(signed_headers),
        hashlib.sha256(body).hexdigest(),
    ])


def signature_of(canonical: str, timestamp: str, scope: str, secret: str) -> str:
    """String to sign, signing key (HMAC chain over date, region, service, "aws4_request") and signature."""
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = ("AWS4" + secret).encode("utf-8")
    for step in scope.split("/"):
        key = hmac_sha256(key, step)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def self_test() -> None:
    """AWS's worked example of the documentation (IAM ListUsers, 2015-08-30): canonical request hash and signature."""
    headers = {"content-type": ["application/x-www-form-urlencoded; charset=utf-8"], "host": ["iam.amazonaws.com"], "x-amz-date": ["20150830T123600Z"]}
    canonical = canonical_request("GET", "/?Action=ListUsers&Version=2010-05-08", headers, ["content-type", "host", "x-amz-date"], b"")
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert digest == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59", digest
    signature = signature_of(canonical, "20150830T123600Z", "20150830/us-east-1/iam/aws4_request", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    assert signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", signature
    print("self-test: AWS's documented example verifies")


class Rejected(Exception):
    pass


def verify(method: str, target: str, headers: list[tuple[str, str]], body: bytes, principals: dict, region: str) -> tuple[dict, str]:
    """The principal of a correctly signed request, and the canonical request; raises Rejected otherwise."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    authorization = (by_name.get("authorization") or [""])[0]
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        raise Rejected("Missing Authentication Token")
    fields = {}
    for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    try:
        access_key, date, scope_region, service, terminator = fields["Credential"].split("/")
        signed_headers = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError) as error:
        raise Rejected(f"malformed Authorization header ({error})") from error
    principal = principals.get(access_key)
    if principal is None:
        raise Rejected("The security token included in the request is invalid.")
    if (scope_region, service, terminator) != (region, SERVICE, "aws4_request"):
        raise Rejected(f"Credential should be scoped to a valid region/service: {scope_region}/{service}")
    if principal.get("token") and (by_name.get("x-amz-security-token") or [""])[0] != principal["token"]:
        raise Rejected("The security token included in the request is invalid.")
    timestamp = (by_name.get("x-amz-date") or [""])[0]
    try:
        when = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise Rejected("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.") from error
    if abs((datetime.now(timezone.utc) - when).total_seconds()) > 900 or timestamp[:8] != date:
        raise Rejected("Signature expired or not of the credential's date")
    if "host" not in signed_headers or signed_headers != sorted(signed_headers):
        raise Rejected("SignedHeaders must be sorted and include host")
    for name in signed_headers:
        if name not in by_name:
            raise Rejected(f"signed header {name} is not in the request")
    canonical = canonical_request(method, target, by_name, signed_headers, body)
    expected = signature_of(canonical, timestamp, f"{date}/{region}/{SERVICE}/aws4_request", principal["secret"])
    if not hmac.compare_digest(expected, signature):
        raise Rejected(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details."
        )
    return principal, canonical


def make_handler(options: argparse.Namespace, principals: dict, token: str, log_lock: threading.Lock):
    upstream_host, _, upstream_port = options.upstream.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # the verdict log is the record
            pass

        def record(self, entry: dict) -> None:
            with log_lock, open(options.log, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")

        def answer(self, status: int, payload: bytes, content_type: str, extra: list[tuple[str, str]] = ()) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self.record({"method": self.command, "target": self.path, "verdict": "chunked body refused"})
                self.answer(400, b'{"message":"chunked bodies are not supported by the stand-in"}', "application/json")
                return
            body = self.rfile.read(length) if length else b""
            entry: dict = {"method": self.command, "target": self.path}
            if not self.path.startswith(PREFIX):
                entry["verdict"] = "no route"
                self.record(entry)
                self.answer(404, b'{"message":"Not Found"}', "application/json")
                return
            try:
                principal, canonical = verify(self.command, self.path, list(self.headers.items()), body, principals, options.region)
            except Rejected as error:
                entry.update(verdict="rejected", reason=str(error))
                self.record(entry)
                self.answer(403, json.dumps({"message": str(error)}).encode(), "application/json")
                return
            entry.update(verdict="verified", principal=principal["arn"], canonical_request=canonical)
            # The integration: path overwritten with /$request.path.proxy, the two gateway headers overwritten.
            forwarded = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP
                         and k.lower() not in {"x-mlflow-iam-principal", "x-mlflow-gateway-token", "content-length"}]
            forwarded += [("X-MLflow-IAM-Principal", principal["arn"]), ("X-MLflow-Gateway-Token", token)]
            connection = http.client.HTTPConnection(upstream_host, int(upstream_port), timeout=120)
            try:
                connection.putrequest(self.command, "/" + self.path[len(PREFIX) :], skip_accept_encoding=True)
                for name, value in forwarded:
                    connection.putheader(name, value)
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
                response = connection.getresponse()
                payload = response.read()
                entry["status"] = response.status
                self.record(entry)
                keep = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length", "content-type"}]
                self.answer(response.status, payload, response.getheader("Content-Type", "application/octet-stream"), keep)
            finally:
                connection.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    return Handler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if argv == ["--self-test"]:
        self_test()
        return 0
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--principals", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--region", default="us-west-2")
    options = parser.parse_args(argv)
    principals = json.loads(options.principals.read_text())
    token = options.token_file.read_text().strip()
    server = ThreadingHTTPServer(("127.0.0.1", options.port), make_handler(options, principals, token, threading.Lock()))
    print(f"gateway stand-in on 127.0.0.1:{options.port} -> {options.upstream}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
