"""Fixtures: a real local DynamoDB (infra/local/moto-server) on a free loopback port, boto3 clients."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.config import Config

LOCAL = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(LOCAL))  # local_aws, for the in-process tests

# One attempt: the tests want to see a throttle, not the SDK's retry of it.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class Server:
    def __init__(self, env: dict[str, str]):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # A file, not a pipe: the server logs every request, and a pipe nobody reads would fill and stall it.
        self.log = tempfile.NamedTemporaryFile(prefix="moto-server-", suffix=".log")
        self.process = subprocess.Popen(
            [str(LOCAL / "moto-server"), "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto-server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()

    def stderr(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def client(self, access_key: str = "AKIDADMIN", service: str = "dynamodb") -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", config=NO_RETRIES,
                            aws_access_key_id=access_key, aws_secret_access_key="secret")

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def table(self, hash_key: str = "pk", range_key: str | None = "sk", stream: bool = False) -> str:
        name = f"t{uuid.uuid4().hex[:8]}"
        schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        attributes = [{"AttributeName": hash_key, "AttributeType": "S"}]
        if range_key:
            schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
            attributes.append({"AttributeName": range_key, "AttributeType": "S"})
        extra: dict[str, Any] = {}
        if stream:
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        self.client().create_table(TableName=name, KeySchema=schema, AttributeDefinitions=attributes,
                                   BillingMode="PAY_PER_REQUEST", **extra)
        return name


@pytest.fixture(scope="session")
def start_server() -> Iterator[Callable[[dict[str, str]], Server]]:
    started: list[Server] = []

    def start(env: dict[str, str]) -> Server:
        started.append(Server(env))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server: Callable[[dict[str, str]], Server]) -> Server:
    return start_server({})
