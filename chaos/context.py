"""What every command needs to reach the shop: the state file, AWS clients, safe URLs.

AWS clients point at the stack's local endpoint (`urls.aws`, dummy credentials "testing",
region from the state file) unless the context was built for a real account (`--target-aws`),
which also requires the caller's account to be in `--allow-account`.

`target` says where the shop runs (local | compose | aws, see chaos/targets/); on aws the
endpoints come from the stack named by `--stack` (`catalog()`, read once) and the shop's URLs
are the stack's load balancers, not loopback ones.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.safety import UnsafeTarget, check_account, require_loopback
from local_stack.state import StackNotRunning, default_state_dir, read_state

log = logging.getLogger("chaos.context")

DEFAULT_REGION = "us-east-1"
# services whose names differ between the CLI and the state file
SERVICE_ALIASES = {"stream-runtime": ("stream-runtime", "stream_runtime", "streams")}


@dataclass
class ChaosContext:
    """The stack (if any), where AWS is, and a client cache."""

    state_dir: Path
    state: dict[str, Any] = field(default_factory=dict)
    region: str = DEFAULT_REGION
    aws_endpoint: str | None = None
    target_aws: bool = False
    account: str | None = None
    stack: str | None = None  # the CloudFormation stack of the aws target
    _catalog: dict[str, Any] | None = field(default=None, repr=False)
    _session: Any = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        state_dir: Path | None = None,
        target_aws: bool = False,
        allow_accounts: list[str] | tuple[str, ...] = (),
        require_stack: bool = True,
        stack: str | None = None,
        region: str | None = None,
    ) -> ChaosContext:
        """Read the state file and check the safety rails; raise StackNotRunning/UnsafeTarget."""
        state_dir = Path(state_dir or default_state_dir()).resolve()
        try:
            state = read_state(state_dir)
        except StackNotRunning:
            if require_stack and not target_aws:
                raise
            state = {}
        region = (region or state.get("region") or os.environ.get("AWS_DEFAULT_REGION")
                  or DEFAULT_REGION)
        endpoint = (state.get("urls") or {}).get("aws")
        ctx = cls(state_dir=state_dir, state=state, region=region, target_aws=target_aws,
                  stack=stack)
        if target_aws:
            ctx.aws_endpoint = os.environ.get("CHAOS_AWS_ENDPOINT_URL") or None
            ctx.account = check_account(ctx.client("sts"), allow_accounts)
            log.warning("acting on AWS account %s (--target-aws)", ctx.account)
        else:
            if endpoint:
                require_loopback(endpoint, "the AWS endpoint")
            ctx.aws_endpoint = endpoint
        return ctx

    @property
    def has_stack(self) -> bool:
        return bool(self.state) or (self.target_aws and bool(self.stack))

    @property
    def target(self) -> str:
        """local | compose | aws (chaos/targets/)."""
        if self.target_aws:
            return "aws"
        return "compose" if self.state.get("compose") else "local"

    def catalog(self) -> dict[str, Any]:
        """The aws target's endpoints catalog (deploy.aws.catalog.endpoints), read once;
        UnsafeTarget without --stack."""
        if not self.target_aws:
            raise UnsafeTarget("the stack catalog is the aws target's (--target-aws --stack)")
        if not self.stack:
            raise UnsafeTarget("the aws target needs --stack NAME (the shop's stack)")
        if self._catalog is None:
            from deploy.aws.catalog import endpoints

            self._catalog = endpoints(self.client("cloudformation"), self.stack)
        return self._catalog

    def reload(self) -> dict[str, Any]:
        """Re-read the state file (pids change when replicas are replaced)."""
        try:
            self.state = read_state(self.state_dir)
        except StackNotRunning:
            self.state = {}
        return self.state

    # -- AWS --------------------------------------------------------------------------------
    def client(self, service: str, attempts: int = 3) -> Any:
        """A cached boto3 client for `service` (thread-safe once built); `attempts` 1 for a
        call that must not be retried (e.g. one an emulator may not implement)."""
        key = f"{service}/{attempts}"
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._new_client(service, attempts)
            return self._clients[key]

    def _new_client(self, service: str, attempts: int) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            region_name=self.region,
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": "standard", "max_attempts": attempts},
        )
        if self.target_aws:
            # one session for every client (called under self._lock): a new session would
            # load botocore's endpoint data again for each client (~0.3 s apiece)
            if self._session is None:
                self._session = boto3.session.Session(region_name=self.region)
            return self._session.client(service, endpoint_url=self.aws_endpoint,
                                        config=config)
        if not self.aws_endpoint:
            raise UnsafeTarget(
                "no local AWS endpoint in the state file; is the stack running? "
                "(a real account needs --target-aws --allow-account ID)"
            )
        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=self.region,
        )
        return session.client(service, endpoint_url=self.aws_endpoint, config=config)

    # -- HTTP -------------------------------------------------------------------------------
    def url(self, key_or_url: str) -> str:
        """A state-file URL by key (`storefront`, `payments`, ...) or a literal URL, checked
        to be loopback."""
        if self.target_aws and self.stack:
            # the account was checked (--allow-account); its URLs are the stack's own
            urls = {k: v for k, v in (self.catalog().get("urls") or {}).items() if v}
            if "://" in key_or_url:
                if key_or_url.rstrip("/") not in {u.rstrip("/") for u in urls.values()}:
                    raise UnsafeTarget(f"refusing {key_or_url!r}: not one of the stack's URLs")
                return key_or_url.rstrip("/")
            if key_or_url not in urls:
                raise KeyError(f"the stack has no URL {key_or_url!r} (known: {sorted(urls)})")
            return str(urls[key_or_url]).rstrip("/")
        if "://" in key_or_url:
            return require_loopback(key_or_url, "endpoint").rstrip("/")
        urls = self.state.get("urls") or {}
        if key_or_url not in urls:
            raise KeyError(f"the state file has no URL {key_or_url!r} (known: {sorted(urls)})")
        return require_loopback(urls[key_or_url], key_or_url).rstrip("/")

    def token(self, role: str) -> str:
        tokens = self.state.get("tokens") or {}
        if role not in tokens:
            raise KeyError(f"the state file has no {role!r} token")
        return str(tokens[role])

    # -- processes --------------------------------------------------------------------------
    def service_key(self, service: str) -> str:
        """The state file's name for a service (`stream-runtime` may be spelled differently)."""
        services = self.state.get("services") or {}
        for name in SERVICE_ALIASES.get(service, (service,)):
            if name in services:
                return name
        raise KeyError(f"the state file has no service {service!r} (known: {sorted(services)})")

    def replicas(self, service: str) -> list[dict[str, Any]]:
        return list(self.state["services"][self.service_key(service)]["replicas"])

    def replica_metrics_urls(self, service: str) -> list[str]:
        """`/metrics` of every replica of `service` (each replica has its own port)."""
        urls = []
        for replica in self.replicas(service):
            if replica.get("port"):
                urls.append(require_loopback(
                    f"http://127.0.0.1:{replica['port']}/metrics", f"{replica['name']} metrics"))
        return urls

    def metrics_url(self, name: str) -> str | None:
        """A `<name>_metrics` URL from the state file (e.g. stream_runtime), if present."""
        urls = self.state.get("urls") or {}
        for key in (f"{name}_metrics", f"{name.replace('-', '_')}_metrics"):
            if key in urls:
                return require_loopback(urls[key], key)
        return None
