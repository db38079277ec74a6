"""`gameday aws deploy|status|destroy`: the shop on a real AWS account (docs/aws.md).

Every subcommand first asks STS whose credentials these are and refuses (exit 2, before any
other call) unless the account is one of `--allow-account`. The work is in deploy.aws.deployer.

Exit codes (local_stack/exit_codes.py): 0 done (destroy with no stack: nothing to do);
1 the deploy or destroy failed (the failed resources and reasons are printed), or status finds
the stack in a failed state; 2 bad flags or an account not allowed; 3 no stack (status), no
credentials or no answer from AWS; 130/143 interrupted (CloudFormation carries on: `status`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from typing import Any

from local_stack.exit_codes import ExitCode, for_signal

_STACK = re.compile(r"^[A-Za-z][-A-Za-z0-9]{0,127}$")
_ACCOUNT = re.compile(r"^\d{12}$")
FAILED_STATES = ("FAILED", "ROLLBACK")


def stack_name(text: str) -> str:
    if not _STACK.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a CloudFormation stack name (a letter, then letters, digits, -)")
    return text


def account_id(text: str) -> str:
    if not _ACCOUNT.match(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AWS account id (12 digits)")
    return text.strip()


def parameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not re.match(r"^[A-Za-z0-9]+$", key):
        raise argparse.ArgumentTypeError(f"{text!r}: use KEY=VALUE (a template parameter)")
    return key, value


def register(sub: argparse._SubParsersAction) -> None:
    aws = sub.add_parser("aws", help="deploy, inspect or destroy the shop on a real AWS account",
                         description="The shop on AWS through CloudFormation (docs/aws.md). "
                                     "Every command checks the account first.")
    commands = aws.add_subparsers(dest="aws_command", metavar="COMMAND", required=True)
    helps = {"deploy": "create or update the stack through a change set",
             "status": "the stack's status, endpoints and services",
             "destroy": "delete the stack and its uploaded code"}
    for name, text in helps.items():
        p = commands.add_parser(name, help=text, description=text)
        p.add_argument("--stack", required=True, type=stack_name,
                       help="CloudFormation stack name (e.g. gameday-shop)")
        p.add_argument("--allow-account", required=True, action="append", type=account_id,
                       metavar="ID", help="the account you mean to act on (repeatable); "
                       "anything else is refused before any change")
        p.add_argument("--region", help="AWS region (default: your configuration's)")
        p.set_defaults(func=run)
    deploy = commands.choices["deploy"]
    deploy.add_argument("--image", help="the Dockerfile's image, pushed to a registry ECS can "
                        "pull (e.g. ECR); needed for a new stack")
    deploy.add_argument("--dry", action="store_true",
                        help="print the plan (read-only calls only) and change nothing")
    deploy.add_argument("--bucket", help="artifact bucket (default gameday-artifacts-<account>-"
                        "<region>, created when missing)")
    deploy.add_argument("--locust-workers", type=int, default=0, metavar="N",
                        help="also deploy Locust (master + N workers) in a nested stack")
    deploy.add_argument("--task-count", type=int, metavar="N",
                        help="tasks per shop service (>= 2; default 2)")
    deploy.add_argument("--allowed-cidr", metavar="CIDR",
                        help="who may reach the ALB (default 0.0.0.0/0: narrow it)")
    deploy.add_argument("--role-arn", help="a CloudFormation service role to deploy with")
    deploy.add_argument("--products", type=int, default=120,
                        help="products to seed into a new stack (0: none)")
    deploy.add_argument("--seed", type=int, default=42, help="seed of the catalog data")
    deploy.add_argument("--code-only", action="store_true",
                        help="pack the shop's code without its libraries (testing only: the "
                             "functions cannot run)")
    deploy.add_argument("--parameter", action="append", type=parameter, default=[],
                        metavar="KEY=VALUE", help="override a template parameter")


def _say(text: str) -> None:
    print(text, flush=True)


def _error(text: str) -> None:
    print(f"gameday aws: {text}", file=sys.stderr, flush=True)


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signum)


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from deploy.aws import deployer
    from deploy.aws.account import AccountNotAllowed, check_account

    if args.aws_command == "deploy":
        if args.locust_workers < 0 or (args.task_count is not None and args.task_count < 2):
            _error("--locust-workers must be >= 0 and --task-count >= 2")
            return ExitCode.USAGE
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
        if not session.region_name:
            _error("no region: pass --region or configure one (AWS_DEFAULT_REGION)")
            return ExitCode.USAGE
        aws = deployer.Aws(session, os.environ.get("AWS_ENDPOINT_URL") or None)
        try:
            account = check_account(aws.client("sts"), args.allow_account)
        except AccountNotAllowed as exc:
            _error(f"{exc}; nothing was done")
            return ExitCode.USAGE
        print(f"account {account}, region {aws.region}, stack {args.stack}", flush=True)
        return _dispatch(args, aws, account, deployer)
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        _error("interrupted; a CloudFormation operation already started goes on: "
               f"`gameday aws status --stack {args.stack}` follows it")
        return for_signal(signum)
    except NoCredentialsError as exc:
        _error(f"no AWS credentials: {exc}")
        return ExitCode.UNAVAILABLE
    except (ClientError, BotoCoreError) as exc:
        _error(f"AWS answered: {exc}")
        return ExitCode.UNAVAILABLE
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _dispatch(args: argparse.Namespace, aws: Any, account: str, deployer: Any) -> int:
    if args.aws_command == "status":
        try:
            description = deployer.status(aws, args.stack, _say)
        except deployer.NoStack as exc:
            _error(str(exc))
            return ExitCode.UNAVAILABLE
        state = str(description["StackStatus"])
        return ExitCode.FAILED if any(s in state for s in FAILED_STATES) else ExitCode.OK
    if args.aws_command == "destroy":
        try:
            deployer.destroy(aws, args.stack, _say)
        except deployer.DeployError as exc:
            _error(str(exc))
            return ExitCode.FAILED
        return ExitCode.OK
    request = deployer.DeployRequest(
        stack=args.stack, image=args.image, bucket=args.bucket,
        locust_workers=args.locust_workers, task_count=args.task_count,
        allowed_cidr=args.allowed_cidr, role_arn=args.role_arn, products=args.products,
        seed=args.seed, with_libraries=not args.code_only, parameters=dict(args.parameter))
    if args.dry:
        deployer.plan(aws, request, account, _say)
        return ExitCode.OK
    try:
        endpoints = deployer.deploy(aws, request, account, _say)
    except deployer.BadRequest as exc:
        _error(str(exc))
        return ExitCode.USAGE
    except deployer.DeployError as exc:
        _error(str(exc))
        return ExitCode.FAILED
    _say(f"storefront: {endpoints['urls']['storefront']}")
    if endpoints["urls"].get("locust"):
        _say(f"locust:     {endpoints['urls']['locust']}")
    return ExitCode.OK
