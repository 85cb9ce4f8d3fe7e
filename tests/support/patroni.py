"""A real high-availability PostgreSQL cluster for the failover tests: etcd and two Patroni nodes
(Debian's `patroni` and `etcd-server` packages, installed here when missing and allowed to), with
synchronous replication so that "committed" means "on both nodes".

The nodes listen on 127.0.0.1 on free ports; the servers run as the `postgres` system user when the
tests run as root (PostgreSQL refuses root). `Cluster.url` is the multi-host URL an application
would use (`target_session_attrs=read-write`: libpq finds the primary, whichever node it is)."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PACKAGES = ("patroni", "etcd-server")
PASSWORD = "esctl-failover"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_packages() -> str | None:
    """Install Patroni and etcd from Debian when missing (root and apt only). Returns why the
    cluster cannot run, or None when it can."""
    if shutil.which("patroni") and shutil.which("etcd"):
        return None if (PG_BIN / "postgres").exists() else f"no PostgreSQL 15 in {PG_BIN}"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "patroni and etcd are not installed (apt-get install patroni etcd-server)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}"
    if not (shutil.which("patroni") and shutil.which("etcd")):
        return "apt-get installed patroni and etcd-server but their commands are missing"
    return None


@dataclass
class Node:
    name: str
    port: int
    api_port: int
    data_dir: Path
    config: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def api(self, path: str = "patroni") -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/{path}", timeout=2) as r:
            body: dict[str, Any] = json.loads(r.read())
            return body

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])


@dataclass
class Cluster:
    home: Path
    nodes: list[Node]
    etcd: subprocess.Popen[bytes]
    user: str | None
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return (
            f"postgresql://postgres@{hosts}/postgres"
            "?target_session_attrs=read-write&connect_timeout=3"
        )

    def leader(self, timeout: float = 60) -> Node:
        """The primary, once the other node is its synchronous standby and streams from it
        (Patroni's view in etcd: roles `leader` and `sync_standby`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = self.members()
            roles = {
                m.get("role"): m for m in members if m.get("state") in ("running", "streaming")
            }
            if "leader" in roles and "sync_standby" in roles:
                name = roles["leader"]["name"]
                return next(node for node in self.nodes if node.name == name)
            time.sleep(0.3)
        raise TimeoutError(
            f"no primary with a synchronous standby: {self.members()}\n{self.logs()}"
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.home.glob("*.log"))
        )

    def members(self) -> list[dict[str, Any]]:
        for node in self.nodes:
            try:
                members: list[dict[str, Any]] = node.api("cluster").get("members", [])
                return members
            except OSError:
                continue
        return []

    def replica(self) -> Node:
        leader = self.leader()
        return next(node for node in self.nodes if node is not leader)

    def switchover(self) -> Node:
        """A planned switchover through Patroni's REST API; returns the new primary."""
        old, new = self.leader(), self.replica()
        body = json.dumps({"leader": old.name, "candidate": new.name}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{old.api_port}/switchover", data=body, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self.log.append(response.read().decode())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"switchover refused: {exc.code} {exc.read().decode()}") from None
        return new

    def crash(self, node: Node) -> None:
        """The machine of `node` dies: its Patroni and its postmaster get SIGKILL."""
        pid = node.postmaster_pid()
        if node.process is not None:
            node.process.kill()
            node.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def restart(self, node: Node) -> None:
        """Start a crashed node's Patroni again: it rejoins as a standby (pg_rewind if needed).
        A node whose Patroni runs is left alone: a second one would outlive `stop`."""
        if node.process is not None and node.process.poll() is None:
            return
        node.process = _start_patroni(node, self.user)

    def wait_until_synchronous(self, timeout: float = 90) -> Node:
        return self.leader(timeout)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    node.process.kill()
            with contextlib.suppress(OSError, ValueError):
                os.kill(node.postmaster_pid(), signal.SIGKILL)
        self.etcd.terminate()
        try:
            self.etcd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.etcd.kill()
        shutil.rmtree(self.home, ignore_errors=True)


def _start_patroni(node: Node, user: str | None) -> subprocess.Popen[bytes]:
    log = open(node.config.with_suffix(".log"), "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(
        ["patroni", str(node.config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        user=user,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
        start_new_session=True,
        cwd=node.data_dir.parent,  # the test's own directory is not the server user's to enter
    )


def _node_config(home: Path, node: Node, etcd_port: int) -> dict[str, Any]:
    return {
        "scope": "esctl-failover",
        "name": node.name,
        "log": {"level": "WARNING"},
        "restapi": {
            "listen": f"127.0.0.1:{node.api_port}",
            "connect_address": f"127.0.0.1:{node.api_port}",
        },
        "etcd": {"host": f"127.0.0.1:{etcd_port}"},
        "bootstrap": {
            "dcs": {
                "ttl": 10,
                "loop_wait": 1,
                "retry_timeout": 3,
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": True,
                "synchronous_mode_strict": True,
                "postgresql": {
                    "use_pg_rewind": True,
                    "parameters": {
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "synchronous_commit": "on",
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"auth": "md5"}],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{node.port}",
            "connect_address": f"127.0.0.1:{node.port}",
            "data_dir": str(node.data_dir),
            "bin_dir": str(PG_BIN),
            "pg_hba": [
                # Only this machine reaches the ports; a password in the URL would sit in the
                # esctl config files the tests write (and esctl warns about those).
                "host replication replicator 127.0.0.1/32 trust",
                "host all all 127.0.0.1/32 trust",
                "local all all trust",
            ],
            "pgpass": str(home / f"{node.name}.pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": PASSWORD},
                "replication": {"username": "replicator", "password": PASSWORD},
                "rewind": {"username": "postgres", "password": PASSWORD},
            },
            "parameters": {
                "unix_socket_directories": str(home),
                "shared_buffers": "64MB",
                "fsync": "off",  # a throwaway cluster: durability is replication's here
            },
        },
        "tags": {"nofailover": False, "noloadbalance": False},
    }


def start_cluster() -> Cluster:
    user = "postgres" if os.geteuid() == 0 else None
    home = Path(tempfile.mkdtemp(prefix="esctl-patroni-"))
    home.chmod(0o755)
    etcd_port, peer_port = free_port(), free_port()
    etcd = subprocess.Popen(
        [
            "etcd",
            "--name",
            "esctl",
            "--data-dir",
            str(home / "etcd"),
            "--listen-client-urls",
            f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-cluster",
            f"esctl=http://127.0.0.1:{peer_port}",
            "--enable-v2=true",
        ],
        stdout=open(home / "etcd.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    nodes = [
        Node(
            name=f"node{i}",
            port=free_port(),
            api_port=free_port(),
            data_dir=home / f"node{i}",
            config=home / f"node{i}.yml",
        )
        for i in (1, 2)
    ]
    cluster = Cluster(home, nodes, etcd, user)
    try:
        _wait_for_etcd(etcd_port)
        for node in nodes:
            node.config.write_text(yaml.safe_dump(_node_config(home, node, etcd_port)))
        if user is not None:
            uid = pwd.getpwnam(user)
            for path in [home, *(node.config for node in nodes)]:
                os.chown(path, uid.pw_uid, uid.pw_gid)
        for node in nodes:
            node.process = _start_patroni(node, user)
            if node is nodes[0]:
                _wait_for_primary(node)
        cluster.leader(timeout=120)
    except BaseException:
        logs = cluster.logs()
        cluster.stop()
        raise RuntimeError(f"the Patroni cluster did not start:\n{logs}") from None
    return cluster


def _wait_for_etcd(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("etcd did not start")


def _wait_for_primary(node: Node, timeout: float = 90) -> None:
    last: Exception | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(node.url, connect_timeout=2, autocommit=True) as conn:
                row = conn.execute("SELECT NOT pg_is_in_recovery()").fetchone()
                if row and row[0]:
                    return
        except psycopg.Error as exc:
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{node.name} did not become primary: {last}")
