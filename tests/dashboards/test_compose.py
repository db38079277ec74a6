"""docker-compose.yml, offline: valid against the compose specification (check-jsonschema's
vendored schema), and consistent with the code: every command's module exists and accepts its
arguments, every environment variable is one the code (or a library it uses) reads and the
shop's match `gameday up`'s, every port agrees across commands, healthchecks, the load
balancer, Prometheus, the URLs and the state file, every mounted or provisioned path exists."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from dashboards.grafana_build import GRAFANA_DIR
from local_stack import compose as entry
from tests.conftest import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OUR_IMAGE = "shop-gameday:local"
OURS = {name: svc for name, svc in SERVICES.items() if svc.get("image") == OUR_IMAGE}
PROM = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
HAPROXY = (REPO / "deploy" / "haproxy" / "haproxy.cfg").read_text()
CHECK_JSONSCHEMA = shutil.which("check-jsonschema")

# Environment variables read by libraries rather than by our code, and where to find them.
LIBRARY_ENV = {
    "AWS_ACCESS_KEY_ID": "botocore", "AWS_SECRET_ACCESS_KEY": "botocore",
    "AWS_SESSION_TOKEN": "botocore", "AWS_XRAY_CONTEXT_MISSING": "aws_xray_sdk",
    "AWS_XRAY_DAEMON_ADDRESS": "aws_xray_sdk",
}
PYTHON_ENV = {"PYTHONUNBUFFERED"}
CODE_DIRS = ("reference_app", "local_stack", "loadtests", "dashboards")
_ENV_READ = re.compile(
    r"""(?:environ(?:\.get|\.setdefault)?\(?\[?|getenv\(|_env_\w+\(|env_\w+\(|env_var=)\s*"""
    r"""["']([A-Z][A-Z0-9_]+)["']""")


# -- the specification ----------------------------------------------------------------------------


@pytest.mark.skipif(CHECK_JSONSCHEMA is None, reason="check-jsonschema not installed (dev extra)")
def test_valid_against_the_compose_specification() -> None:
    done = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec",
                           str(COMPOSE_FILE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(CHECK_JSONSCHEMA is None, reason="check-jsonschema not installed (dev extra)")
def test_the_validation_catches_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    command: [\"python\", \"-m\", "
                                                       "\"local_stack.compose\", \"deploy\"",
                                                       "    comand: [\"python\", \"-m\", "
                                                       "\"local_stack.compose\", \"deploy\"", 1))
    assert "comand:" in broken.read_text()
    done = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec",
                           str(broken)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0


def test_what_the_issue_asks_for_is_there() -> None:
    assert {"aws", "redis", "storefront", "payments", "reviews", "lb", "stream-runtime",
            "transaction-manager", "alarm-evaluator", "prometheus", "alertmanager", "grafana",
            "locust-master", "locust-worker"} <= set(SERVICES)
    for name in ("storefront", "payments", "locust-worker"):
        assert SERVICES[name]["deploy"]["replicas"] >= 2
    for name, svc in SERVICES.items():
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), name
        if svc.get("ports") or svc.get("expose"):
            assert svc.get("healthcheck", {}).get("test"), f"{name} has a port, no healthcheck"
    for name in OURS:
        assert OURS[name]["init"] is True, f"{name}: kill-replica's crash mode needs init"


def test_dependencies_name_services() -> None:
    for name, svc in SERVICES.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert SERVICES[dep].get("healthcheck"), f"{name} waits for {dep}'s health"


# -- commands -------------------------------------------------------------------------------------


class _Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__("parsed")
        self.namespace = namespace


@contextmanager
def _stop_after_parsing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run a module's main() only until its argparse parser accepted the arguments."""
    original = argparse.ArgumentParser.parse_args

    def parse_args(self: argparse.ArgumentParser, args: Any = None,
                   namespace: Any = None) -> Any:
        raise _Parsed(original(self, args, namespace))

    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_args)
        yield


def _python_commands(command: list[str]) -> Iterator[list[str]]:
    """`python -m module args...`, and the one an ambassador runs after `--`."""
    assert command[:2] == ["python", "-m"], command
    yield command[2:]
    if command[2:4] == ["local_stack.compose", "ambassador"]:
        inner = command[command.index("--") + 1:]
        yield from _python_commands(inner)


def _all_python_commands() -> list[tuple[str, list[str]]]:
    out = []
    for name, svc in OURS.items():
        out += [(name, cmd) for cmd in _python_commands(svc["command"])]
        test = svc.get("healthcheck", {}).get("test") or []
        if test[:3] == ["CMD", "python", "-m"]:
            out.append((f"{name} healthcheck", test[3:]))
    return out


@pytest.mark.parametrize("service, command", _all_python_commands(),
                         ids=lambda v: v if isinstance(v, str) else v[0])
def test_every_command_module_exists_and_accepts_its_arguments(
        service: str, command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    module, args = command[0], command[1:]
    if module == "locust":
        _check_locust_arguments(args)
        return
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{service}: no module {module}"
    target = f"{module}.__main__" if spec.submodule_search_locations else module
    main = importlib.import_module(target).main
    if module == "local_stack.compose" and args[:1] == ["ambassador"]:
        args = args[:args.index("--")]  # the command after -- is checked on its own
    with _stop_after_parsing(monkeypatch), pytest.raises(_Parsed):
        main(args)


def _check_locust_arguments(args: list[str]) -> None:
    """Locust's own parser with our arguments added, in a child process (importing Locust
    here would monkey-patch this one with gevent)."""
    files = args[args.index("-f") + 1]
    for path in files.split(","):
        assert path.startswith("/app/loadtests/"), path
        assert (REPO / "loadtests" / Path(path).name).exists(), path
    script = (
        "import sys\n"
        "from locust.argument_parser import get_parser\n"
        "from loadtests.config import add_arguments\n"
        "from loadtests import prometheus_exporter\n"
        "parser = get_parser()  # fires init_command_line_parser: the exporter's arguments\n"
        "add_arguments(parser)  # the locustfile's plugin adds these the same way\n"
        "parser.parse_args(sys.argv[1:])\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO,
                          env={"LOCUST_SKIP_MONKEY_PATCH": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_the_dockerfile_copies_what_exists_and_installs_the_project() -> None:
    text = (REPO / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            *sources, _dest = line.split()[1:]
            for source in sources:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    assert "COPY loadtests ./loadtests" in text and "WORKDIR /app" in text
    pyproject = (REPO / "pyproject.toml").read_text()
    for package in ("reference_app", "local_stack", "loadtests", "chaos", "dashboards",
                    "gameday"):
        assert f"COPY {package} ./{package}" in text
        assert f'"{package}*"' in pyproject


# -- environment ----------------------------------------------------------------------------------


# a variable's name kept in a constant, e.g. HANDLER_METRICS_ENV = "STREAM_RUNTIME_..."
_ENV_CONSTANT = re.compile(r"""^(\w*ENV\w*)\s*=\s*["']([A-Z][A-Z0-9_]+)["']""", re.M)


def _env_read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            names |= set(_ENV_READ.findall(text))
            for constant, name in _ENV_CONSTANT.findall(text):
                if re.search(rf"environ(?:\.get)?\(?\[?\s*{constant}\b", text):
                    names.add(name)
    return names


def _module_constants(path: Path, names: set[str]) -> dict[str, Any]:
    tree = ast.parse(path.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name) and node.targets[0].id in names:
            out[node.targets[0].id] = node.value
    return out


def _gameday_up_env_keys() -> set[str]:
    """The keys of `base_env` in LocalStack.start (local_stack/stack.py)."""
    stack = REPO / "local_stack" / "stack.py"
    keys = {ast.literal_eval(k) for k in _module_constants(stack, {"LOCAL_AWS_ENV"})[
        "LOCAL_AWS_ENV"].keys}
    for node in ast.walk(ast.parse(stack.read_text())):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "base_env" for t in node.targets):
            keys |= {k.value for k in node.value.keys
                     if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return keys


def test_every_env_var_is_read_by_the_code_or_its_libraries() -> None:
    read = _env_read_by_code()
    assert {"SHOP_TOKEN_SECRET", "AWS_ENDPOINT_URL", "STREAM_RUNTIME_HANDLER_METRICS_DIR"} <= read
    for name, svc in OURS.items():
        for var in svc.get("environment") or {}:
            if var in read or var in PYTHON_ENV:
                continue
            assert var in LIBRARY_ENV, f"{name}: nothing reads {var}"
            spec = importlib.util.find_spec(LIBRARY_ENV[var])
            assert spec and spec.submodule_search_locations
            package = Path(next(iter(spec.submodule_search_locations)))
            assert any(var in p.read_text(errors="ignore") for p in package.rglob("*.py")), \
                f"{var} is not read by {LIBRARY_ENV[var]}"


def test_the_shop_environment_is_gameday_ups() -> None:
    expected = _gameday_up_env_keys()
    assert "SHOP_TOKEN_SECRET" in expected and "AWS_XRAY_DAEMON_ADDRESS" in expected
    shop_env = COMPOSE["x-shop-env"]
    assert set(shop_env) == expected
    for name in ("storefront", "payments", "reviews", "transaction-manager"):
        assert OURS[name]["environment"]["SHOP_SERVICE"] == name
    for name, svc in OURS.items():
        env = svc.get("environment")
        if env:
            assert expected <= set(env), f"{name} lacks part of the shop environment"


def test_the_shop_environment_points_at_compose_services() -> None:
    env = COMPOSE["x-shop-env"]
    redis = urlparse(env["SHOP_REDIS_URL"])
    assert redis.hostname == "redis" and redis.port == entry.REDIS_PORT
    assert str(entry.REDIS_PORT) in SERVICES["redis"]["command"]
    aws = urlparse(env["AWS_ENDPOINT_URL"])
    assert aws.hostname == "aws" and aws.port == entry.AWS_PORT
    for service in ("payments", "reviews"):
        url = urlparse(env[f"SHOP_{service.upper()}_URL"])
        assert url.hostname == "lb" and url.port == entry.LB_PORTS[service]
    xray_host, xray_port = env["AWS_XRAY_DAEMON_ADDRESS"].split(":")
    assert xray_host == "xray" and xray_port in SERVICES["xray"]["command"]


# -- ports ----------------------------------------------------------------------------------------


def _flag(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _forwards(command: list[str]) -> list[entry.Forward]:
    return [entry.Forward.parse(command[i + 1]) for i, arg in enumerate(command)
            if arg == "--tcp"]


def _health_port(svc: dict[str, Any]) -> int:
    url = next(a for a in svc["healthcheck"]["test"] if str(a).startswith("http://"))
    return int(urlparse(url).port or 80)


def _published(svc: dict[str, Any]) -> dict[int, int]:
    """container port -> host port (all on 127.0.0.1)."""
    out = {}
    for mapping in svc.get("ports", []):
        host_ip, host_port, container_port = mapping.split(":")
        assert host_ip == "127.0.0.1", f"{mapping}: publish on loopback only"
        out[int(container_port)] = int(host_port)
    return out


def test_replica_ports_agree_everywhere() -> None:
    for service in ("storefront", "payments", "reviews"):
        svc = OURS[service]
        port = int(_flag(svc["command"], "--port"))
        assert port == entry.SERVICE_PORT == _health_port(svc)
        assert svc["expose"] == [str(port)]
        assert f"server-template {service}- 8 {service}:{port}" in HAPROXY
        job = next(j for j in PROM["scrape_configs"] if j["job_name"] == service)
        assert job["dns_sd_configs"][0] == {"names": [service], "type": "A", "port": port,
                                            "refresh_interval": "5s"}
        assert _flag(svc["command"], "--app") == f"reference_app.{service}.app:create_app"
        assert importlib.util.find_spec(f"reference_app.{service}.app")


def test_load_balancer_frontends_match_the_urls_and_the_published_ports() -> None:
    lb = SERVICES["lb"]
    published = _published(lb)
    for service, port in entry.LB_PORTS.items():
        assert re.search(rf"frontend {service}\n    bind :{port}\n", HAPROXY)
        assert published[port] == entry.PUBLISHED[service]
    assert "bind :8404" in HAPROXY and published[entry.LB_STATS_PORT] == entry.LB_STATS_PORT
    assert _health_port(lb) == entry.LB_STATS_PORT and "monitor-uri /healthz" in HAPROXY
    assert _flag(OURS["locust-master"]["command"], "--host") == \
        f"http://lb:{entry.LB_PORTS['storefront']}"


def test_ambassadors_connect_the_right_ports() -> None:
    aws = OURS["aws"]["command"]
    (publish,) = _forwards(aws)
    inner = aws[aws.index("--") + 1:]
    assert (publish.listen_host, publish.listen_port) == ("0.0.0.0", entry.AWS_PORT)
    assert (publish.target_host, publish.target_port) == ("127.0.0.1",
                                                          int(_flag(inner, "--port")))
    assert _flag(inner, "--host") == "127.0.0.1" and int(_flag(inner, "--port")) == \
        entry.AWS_LOOPBACK_PORT
    assert _health_port(OURS["aws"]) == entry.AWS_PORT
    assert _published(OURS["aws"]) == {entry.AWS_PORT: entry.PUBLISHED["aws"]}

    for service, job, metrics_port, loopback_port in (
            ("stream-runtime", "stream_runtime", entry.STREAM_RUNTIME_METRICS_PORT,
             entry.STREAM_RUNTIME_LOOPBACK_PORT),
            ("alarm-evaluator", "alarm_evaluator", entry.ALARM_EVALUATOR_METRICS_PORT,
             entry.ALARM_EVALUATOR_LOOPBACK_PORT)):
        svc = OURS[service]
        command = svc["command"]
        inner = command[command.index("--") + 1:]
        to_aws, publish = _forwards(command)
        endpoint = urlparse(svc["environment"]["AWS_ENDPOINT_URL"])
        # the process sees the emulator on its own loopback (its safety check), which the
        # ambassador forwards to the aws service's published port
        assert (endpoint.hostname, endpoint.port) == (to_aws.listen_host, to_aws.listen_port)
        assert (to_aws.target_host, to_aws.target_port) == ("aws", entry.AWS_PORT)
        assert int(_flag(inner, "--metrics-port")) == loopback_port == publish.target_port
        assert publish.target_host == "127.0.0.1"
        assert (publish.listen_host, publish.listen_port) == ("0.0.0.0", metrics_port)
        assert _health_port(svc) == metrics_port
        job_config = next(j for j in PROM["scrape_configs"] if j["job_name"] == job)
        assert job_config["static_configs"][0]["targets"] == [f"{service}:{metrics_port}"]


def test_other_ports_agree() -> None:
    saga = OURS["saga-exporter"]
    port = int(_flag(saga["command"], "--port"))
    assert port == entry.SAGA_EXPORTER_PORT == _health_port(saga)
    master = OURS["locust-master"]
    exporter = int(_flag(master["command"], "--prometheus-port"))
    assert exporter == entry.LOCUST_EXPORTER_PORT == _health_port(master)
    assert int(_flag(master["command"], "--web-port")) == entry.LOCUST_WEB_PORT
    worker = OURS["locust-worker"]["command"]
    assert _flag(worker, "--master-host") == "locust-master"
    # a worker without --host stops at init (no state file in a container): same target
    assert _flag(worker, "--host") == _flag(master["command"], "--host")
    assert "--allow-remote" in worker and "--allow-remote" in master["command"]
    targets = {j["job_name"]: j["static_configs"][0]["targets"]
               for j in PROM["scrape_configs"] if "static_configs" in j}
    assert targets["saga"] == [f"saga-exporter:{port}"]
    assert targets["locust"] == [f"locust-master:{exporter}"]
    assert targets["lb"] == [f"lb:{entry.LB_STATS_PORT}"]
    assert PROM["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"alertmanager:{entry.ALERTMANAGER_PORT}"]
    assert f"--web.listen-address=0.0.0.0:{entry.PROMETHEUS_PORT}" in \
        SERVICES["prometheus"]["command"]
    assert f"--web.listen-address=0.0.0.0:{entry.ALERTMANAGER_PORT}" in \
        SERVICES["alertmanager"]["command"]
    datasources = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" /
                                  "prometheus.yaml").read_text())["datasources"]
    urls = {d["type"]: urlparse(d["url"]) for d in datasources}
    assert (urls["prometheus"].hostname, urls["prometheus"].port) == ("prometheus",
                                                                      entry.PROMETHEUS_PORT)
    assert (urls["alertmanager"].hostname, urls["alertmanager"].port) == (
        "alertmanager", entry.ALERTMANAGER_PORT)
    assert datasources[0]["jsonData"]["timeInterval"] == PROM["global"]["scrape_interval"]


def test_published_ports_are_the_state_files() -> None:
    published = {host for svc in SERVICES.values() for host in _published(svc).values()}
    assert published == set(entry.PUBLISHED.values())
    state = entry.compose_state()
    for key, url in state["urls"].items():
        port = urlparse(url).port
        assert port in published, f"state url {key} -> {url} is not published"
    assert entry.DEFAULT_TOKEN_SECRET in COMPOSE["x-shop-env"]["SHOP_TOKEN_SECRET"]


def test_every_network_name_is_a_service() -> None:
    names = set(SERVICES)
    hosts = set(re.findall(r"server-template \S+ \d+ ([\w-]+):", HAPROXY))
    for job in PROM["scrape_configs"]:
        for config in job.get("static_configs", []):
            hosts |= {t.split(":")[0] for t in config["targets"]}
        for config in job.get("dns_sd_configs", []):
            hosts |= set(config["names"])
    hosts.discard("localhost")
    for svc in OURS.values():
        for value in (svc.get("environment") or {}).values():
            host = urlparse(str(value)).hostname if "://" in str(value) else None
            if host and host != "127.0.0.1":
                hosts.add(host)
        for forward in _forwards(svc["command"]):
            if forward.target_host != "127.0.0.1":
                hosts.add(forward.target_host)
    assert hosts <= names, hosts - names


# -- paths ----------------------------------------------------------------------------------------


def test_every_mounted_path_exists() -> None:
    named = set(COMPOSE.get("volumes") or {})
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            if isinstance(volume, dict):
                assert volume["type"] == "tmpfs", (name, volume)
                continue
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in named, f"{name}: unknown volume {source}"
            assert target.startswith("/")


def _mounts(service: str) -> dict[str, str]:
    """container path -> repo path of a service's bind mounts."""
    out = {}
    for volume in SERVICES[service].get("volumes", []):
        if isinstance(volume, str) and volume.startswith("./"):
            source, target = volume.split(":")[:2]
            out[target] = source
    return out


def test_prometheus_loads_the_mounted_rules_and_config(tmp_path: Path) -> None:
    mounts = _mounts("prometheus")
    config = _flag_value(SERVICES["prometheus"]["command"], "--config.file")
    assert mounts[config] == "./deploy/prometheus/prometheus.yml"
    for rule_file in PROM["rule_files"]:
        assert mounts[rule_file] == "./dashboards/prometheus/alerts.yml"
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed")
    local = dict(PROM, rule_files=[str(REPO / "dashboards" / "prometheus" / "alerts.yml")])
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(local))
    done = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _flag_value(command: list[str], flag: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(f"{flag}="))


def test_alertmanager_and_haproxy_configs_are_mounted() -> None:
    assert _mounts("alertmanager")[_flag_value(SERVICES["alertmanager"]["command"],
                                               "--config.file")] == \
        "./deploy/alertmanager/alertmanager.yml"
    config = yaml.safe_load((REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    assert _mounts("lb")["/usr/local/etc/haproxy/haproxy.cfg"] == "./deploy/haproxy/haproxy.cfg"


def test_grafana_provisioning_is_mounted_where_grafana_reads_it() -> None:
    mounts = _mounts("grafana")
    provisioning = GRAFANA_DIR / "provisioning"
    for kind in ("datasources", "dashboards"):
        assert mounts[f"/etc/grafana/provisioning/{kind}"] == \
            f"./dashboards/grafana/provisioning/{kind}"
        assert list((provisioning / kind).glob("*.yaml"))
    provider = yaml.safe_load((provisioning / "dashboards" / "shop-gameday.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == "./dashboards/grafana"
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(path + "/")
    home_file = GRAFANA_DIR / Path(home).name
    assert home_file.exists()
    assert json.loads(home_file.read_text())["uid"]
