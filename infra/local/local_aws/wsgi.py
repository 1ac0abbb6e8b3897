"""The WSGI layer: reads each DynamoDB / DynamoDB Streams request body, runs the checks, and answers
AWS's error itself or hands the request (body re-supplied) to moto. Also serves the control endpoints:

  POST   /_pulse/principals                      register (or replace) an access key's policy
  GET    /_pulse/principals/<access_key_id>/log  what its calls used (and how often) and what was denied
  DELETE /_pulse/principals/<access_key_id>      forget it
"""

import io
import json
import re
from typing import Any, Callable, Iterable

from . import iam, limits, throughput
from .errors import Refusal

SERVICES = ("DynamoDB_20120810", "DynamoDBStreams_20120810")
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/")
CONTROL = re.compile(r"^/_pulse/principals(?:/([^/]+)(/log)?)?/?$")

Dispatch = Callable[[Any, dict[str, Any], Callable], Iterable[bytes]]


def read_body(environ: dict[str, Any]) -> bytes:
    """The whole body, put back for moto as a plain input of known length."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def credential(environ: dict[str, Any]) -> tuple[str | None, str]:
    """The access key id and region of the SigV4 credential scope."""
    match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (match.group(1), match.group(2)) if match else (None, "us-east-1")


def answer(start_response: Callable, status: str, payload: Any, headers: list[tuple[str, str]] | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    start_response(status, (headers or [("Content-Type", "application/json"),
                                        ("Content-Length", str(len(body)))]))
    return [body]


def control(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    match = CONTROL.match(environ.get("PATH_INFO", ""))
    method = environ.get("REQUEST_METHOD", "GET")
    if match is None:
        return answer(start_response, "404 Not Found", {"message": "unknown control endpoint"})
    key, wants_log = match.groups()
    if key is None and method == "POST":
        try:
            body = json.loads(read_body(environ) or b"{}")
            return answer(start_response, "200 OK", iam.register(body))
        except (ValueError, AttributeError, TypeError) as error:
            return answer(start_response, "400 Bad Request", {"message": str(error)})
    if key is not None and wants_log and method == "GET":
        found = iam.log(key)
        if found is None:
            return answer(start_response, "404 Not Found", {"message": f"no principal {key}"})
        return answer(start_response, "200 OK", found)
    if key is not None and not wants_log and method == "DELETE":
        return answer(start_response, "200 OK", iam.forget(key))
    return answer(start_response, "405 Method Not Allowed", {"message": f"{method} not allowed here"})


def checked(dispatch: Dispatch) -> Dispatch:
    def call(app: Any, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_pulse/"):
            return control(environ, start_response)
        service, _, op = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
        if service not in SERVICES:
            return dispatch(app, environ, start_response)
        try:
            body = json.loads(read_body(environ) or b"{}")
        except ValueError:
            return dispatch(app, environ, start_response)  # moto answers malformed JSON its own way
        if not isinstance(body, dict):
            return dispatch(app, environ, start_response)
        access_key, region = credential(environ)
        try:
            iam.authorize(access_key, region, op, body)
            charges: list[throughput.Charge] = []
            if service == "DynamoDB_20120810":
                limits.check_request(region, op, body)
                charges = throughput.plan(region, op, body)
                throughput.admit(charges)
        except Refusal as refusal:
            return answer(start_response, f"{refusal.status} Bad Request", refusal.body(), refusal.headers())
        if not charges:
            return dispatch(app, environ, start_response)
        throughput.start_request()
        statuses: list[str] = []

        def recording(status: str, headers: list, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        response = list(dispatch(app, environ, recording))
        if statuses and statuses[0].startswith("200"):
            throughput.bill(charges)
        return response

    return call
