#!/usr/bin/env python3
"""Local AWS stack for the project: a moto server plus the template's tables and queues.

Commands
  run   [options] -- CMD ARGS...   start the stack, run CMD in its environment, stop the
                                   stack, exit with CMD's exit code
  serve [options]                  start the stack and keep it up until Ctrl-C / SIGTERM

What happens on startup
  * a moto server (``python -m moto.server``, run by the same Python as this script) is
    started on 127.0.0.1 on a free port; its log goes to .local/moto.log;
  * every AWS::DynamoDB::Table, AWS::Serverless::SimpleTable, AWS::SQS::Queue and
    AWS::SecretsManager::Secret of the SAM/CloudFormation template is created in it (in
    dependency order, so dead-letter queues exist before the queues that point at them);
    a secret gets its SecretString, a random value for GenerateSecretString, or the value
    given with --secret LOGICAL_ID=VALUE;
  * e-mail addresses found in function environment variables whose name contains SENDER
    or FROM (and in parameters named like that) are verified in SES;
  * these files are written under .local/ at the repository root (the parent of scripts/):
      stack.env       ``export K=V`` lines (source it from a shell)
      tables.json     {LogicalId: {"TableName": ..., <boto3 create_table kwargs>}}
      resources.json  {"endpoint", "region", "account_id", "stack_name",
                       "tables": {LogicalId: {name, arn, stream_arn, ttl_attribute}},
                       "queues": {LogicalId: {name, url, arn, attributes}},
                       "secrets": {LogicalId: {name, arn}},
                       "routes": [{method, path, function, binary, auth}]}
      moto.log        the moto server's own output

Environment given to CMD (and written to stack.env)
  AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_EC2_METADATA_DISABLED, LOCAL_AWS=1, LOCAL_TABLE_SPECS,
  LOCAL_AWS_RESOURCES, plus the union of the function environment variables
  (Globals.Function.Environment.Variables merged with each function's own), with the
  intrinsic functions resolved against the local stack.  Local values always win: the
  caller's environment is inherited, but every variable above is overwritten, and
  variables that could send an SDK to real AWS (AWS_PROFILE, AWS_SESSION_TOKEN,
  AWS_ENDPOINT_URL_<SERVICE>, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, ...) are removed.

Supported intrinsics: Ref (tables -> name, queues -> URL, secrets -> ARN, parameters -> Default or
--param, pseudo parameters), Fn::GetAtt (table Arn/StreamArn, queue Arn/QueueUrl/
QueueName), Fn::Sub (both forms), Fn::Join, Fn::Select, Fn::Split, Fn::If (with
Conditions using Fn::Equals/Not/And/Or/Condition), Fn::FindInMap, Fn::Base64,
Fn::GetAZs, Fn::ToJsonString.  Anything else fails with a message that names the
expression.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_STACK = "tracking-local"
HOST = "127.0.0.1"

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
QUEUE_TYPE = "AWS::SQS::Queue"
SECRET_TYPE = "AWS::SecretsManager::Secret"
CREATED_TYPES = (*TABLE_TYPES, QUEUE_TYPE, SECRET_TYPE)
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")

# Caller variables that could make an SDK talk to real AWS or use other credentials.
UNSET_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


# --------------------------------------------------------------------------- errors/log


class LocalAwsError(Exception):
    """An expected failure: reported as one message, without a traceback."""


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def log(msg: str) -> None:
    print(f"local-aws: {msg}", file=sys.stderr, flush=True)


def expr_text(value: Any) -> str:
    """Short printable form of a template expression, for error messages."""
    try:
        text = json.dumps(value, default=str, sort_keys=False)
    except Exception:  # pragma: no cover - defensive
        text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------- YAML


def _make_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that understands CloudFormation short-form tags (!Ref, !Sub, ...)."""

    # CloudFormation treats unquoted dates like 2012-10-17 as strings.
    Loader.yaml_implicit_resolvers = {
        key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "Condition":
            return {"Condition": value}
        if suffix == "GetAtt" and isinstance(value, str):
            name, sep, attr = value.partition(".")
            if not sep:
                raise yaml.constructor.ConstructorError(
                    None, None, f"!GetAtt {value!r} must look like Resource.Attribute",
                    node.start_mark)
            return {"Fn::GetAtt": [name, attr]}
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", construct_tag)
    return Loader


def load_template(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise LocalAwsError(f"template not found: {path}")
    try:
        with path.open("r", encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=_make_loader())  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise LocalAwsError(f"cannot parse template {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise LocalAwsError(f"template {path} is not a mapping")
    resources = doc.get("Resources")
    if resources is not None and not isinstance(resources, dict):
        raise LocalAwsError(f"template {path}: Resources is not a mapping")
    return doc


# --------------------------------------------------------------------------- resolver

NO_VALUE = object()  # AWS::NoValue


class Resolver:
    """Resolves CloudFormation intrinsic functions against the local stack."""

    def __init__(self, template: dict, stack: str, params: dict[str, str]) -> None:
        self.template = template
        self.stack = stack
        self.resources: dict = template.get("Resources") or {}
        self.mappings: dict = template.get("Mappings") or {}
        self.conditions_src: dict = template.get("Conditions") or {}
        self.param_values: dict[str, Any] = {}
        self._condition_cache: dict[str, bool] = {}
        self._condition_stack: list[str] = []
        # Filled in while resources are created.
        self.tables: dict[str, dict] = {}  # LogicalId -> {name, arn, stream_arn, ...}
        self.queues: dict[str, dict] = {}  # LogicalId -> {name, url, arn}
        self.secrets: dict[str, dict] = {}  # LogicalId -> {name, arn}
        self._load_parameters(params)

    # -- parameters / conditions

    def _load_parameters(self, overrides: dict[str, str]) -> None:
        declared = self.template.get("Parameters") or {}
        for name in overrides:
            if name not in declared:
                raise LocalAwsError(f"--param {name}: the template declares no such parameter")
        for name, spec in declared.items():
            spec = spec or {}
            if name in overrides:
                raw: Any = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                continue  # referencing it fails later, with a clear message
            ptype = str(spec.get("Type", "String"))
            if ptype.startswith("AWS::SSM::Parameter::") and name not in overrides:
                continue  # the Default is a parameter-store key, not a value: needs --param
            if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                if isinstance(raw, list):
                    value: Any = [scalar_str(v) for v in raw]
                else:
                    value = [p.strip() for p in scalar_str(raw).split(",")]
            else:
                value = scalar_str(raw)
            self.param_values[name] = value

    def condition(self, name: str) -> bool:
        if name in self._condition_cache:
            return self._condition_cache[name]
        if name not in self.conditions_src:
            raise LocalAwsError(f"condition {name!r} is not declared under Conditions")
        if name in self._condition_stack:
            raise LocalAwsError(f"condition {name!r} refers to itself")
        self._condition_stack.append(name)
        try:
            result = self.eval_condition(self.conditions_src[name], f"condition {name}")
        finally:
            self._condition_stack.pop()
        self._condition_cache[name] = result
        return result

    def eval_condition(self, expr: Any, where: str) -> bool:
        if isinstance(expr, bool):
            return expr
        if isinstance(expr, dict) and len(expr) == 1:
            (key, arg), = expr.items()
            if key == "Condition":
                return self.condition(str(arg))
            if key == "Fn::Equals":
                if not isinstance(arg, list) or len(arg) != 2:
                    raise LocalAwsError(f"{where}: Fn::Equals needs two values: {expr_text(expr)}")
                a, b = (self.resolve(v, where) for v in arg)
                return normalize_cmp(a) == normalize_cmp(b)
            if key == "Fn::Not":
                items = arg if isinstance(arg, list) else [arg]
                if len(items) != 1:
                    raise LocalAwsError(f"{where}: Fn::Not needs one condition: {expr_text(expr)}")
                return not self.eval_condition(items[0], where)
            if key in ("Fn::And", "Fn::Or"):
                if not isinstance(arg, list) or not arg:
                    raise LocalAwsError(f"{where}: {key} needs a list: {expr_text(expr)}")
                values = [self.eval_condition(c, where) for c in arg]
                return all(values) if key == "Fn::And" else any(values)
        if isinstance(expr, str) and expr.lower() in ("true", "false"):
            return expr.lower() == "true"
        raise LocalAwsError(f"{where}: unsupported condition expression {expr_text(expr)}")

    def resource_enabled(self, logical_id: str) -> bool:
        cond = (self.resources.get(logical_id) or {}).get("Condition")
        return True if cond is None else self.condition(str(cond))

    # -- Ref / GetAtt

    def ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise LocalAwsError(f"{where}: Ref needs a name, got {expr_text(name)}")
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack}/"
                            "00000000-0000-0000-0000-000000000000",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            raise LocalAwsError(f"{where}: pseudo parameter {name} is not supported locally")
        params = self.template.get("Parameters") or {}
        if name in params:
            if name not in self.param_values:
                ptype = str((params[name] or {}).get("Type", "String"))
                why = (f"has type {ptype}, whose value lives in SSM" if
                       ptype.startswith("AWS::SSM::Parameter::") else "has no Default")
                raise LocalAwsError(
                    f"{where}: parameter {name} {why}; give it with --param {name}=VALUE")
            return self.param_values[name]
        if name in self.tables:
            return self.tables[name]["name"]
        if name in self.queues:
            return self.queues[name]["url"]
        if name in self.secrets:
            return self.secrets[name]["arn"]
        self._unknown_resource(name, f"Ref {name}", where)
        raise AssertionError  # unreachable

    def get_att(self, args: Any, where: str) -> Any:
        if isinstance(args, str):
            args = args.split(".", 1)
        if not isinstance(args, list) or len(args) != 2:
            raise LocalAwsError(f"{where}: Fn::GetAtt needs [Resource, Attribute]: {expr_text(args)}")
        name = args[0]
        attr = self.resolve(args[1], where)
        if not isinstance(name, str) or not isinstance(attr, str):
            raise LocalAwsError(f"{where}: bad Fn::GetAtt {expr_text(args)}")
        text = f"GetAtt {name}.{attr}"
        if name in self.tables:
            info = self.tables[name]
            if attr == "Arn":
                return info["arn"]
            if attr == "StreamArn":
                if not info.get("stream_arn"):
                    raise LocalAwsError(f"{where}: {text}: table {name} has no stream "
                                        "(add StreamSpecification to it)")
                return info["stream_arn"]
            raise LocalAwsError(f"{where}: {text}: tables only support Arn and StreamArn locally")
        if name in self.queues:
            info = self.queues[name]
            attrs = {"Arn": info["arn"], "QueueUrl": info["url"], "QueueName": info["name"]}
            if attr in attrs:
                return attrs[attr]
            raise LocalAwsError(
                f"{where}: {text}: queues only support Arn, QueueUrl and QueueName locally")
        self._unknown_resource(name, text, where)
        raise AssertionError  # unreachable

    def _unknown_resource(self, name: str, text: str, where: str) -> None:
        res = self.resources.get(name)
        if res is None:
            raise LocalAwsError(f"{where}: {text}: no parameter or resource named {name}")
        rtype = (res or {}).get("Type", "?")
        if rtype in CREATED_TYPES:
            if not self.resource_enabled(name):
                raise LocalAwsError(f"{where}: {text}: resource {name} is disabled by its Condition")
            raise LocalAwsError(f"{where}: {text}: resource {name} is not created yet "
                                "(dependency cycle?)")
        raise LocalAwsError(
            f"{where}: {text}: resource {name} has type {rtype}, which the local stack does not "
            "emulate (only DynamoDB tables, SQS queues and Secrets Manager secrets)")

    # -- generic resolution

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            out = [self.resolve(v, where) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg, where)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._intrinsic(key, arg, value, where)
        out = {}
        for k, v in value.items():
            r = self.resolve(v, where)
            if r is not NO_VALUE:
                out[k] = r
        return out

    def _intrinsic(self, key: str, arg: Any, expr: Any, where: str) -> Any:
        bad = lambda why: LocalAwsError(f"{where}: {why}: {expr_text(expr)}")  # noqa: E731
        if key == "Fn::GetAtt":
            return self.get_att(arg, where)
        if key == "Fn::Sub":
            return self.sub(arg, expr, where)
        if key == "Fn::Join":
            if not isinstance(arg, list) or len(arg) != 2:
                raise bad("Fn::Join needs [delimiter, [values]]")
            delim = self.resolve(arg[0], where)
            items = self.resolve(arg[1], where)
            if not isinstance(items, list):
                raise bad("Fn::Join values must be a list")
            return str(delim).join(self.as_string(i, where, expr) for i in items)
        if key == "Fn::Select":
            if not isinstance(arg, list) or len(arg) != 2:
                raise bad("Fn::Select needs [index, list]")
            idx = self.resolve(arg[0], where)
            items = self.resolve(arg[1], where)
            try:
                return items[int(idx)]
            except (ValueError, TypeError, IndexError):
                raise bad(f"Fn::Select index {idx!r} is not valid for {items!r}") from None
        if key == "Fn::Split":
            if not isinstance(arg, list) or len(arg) != 2:
                raise bad("Fn::Split needs [delimiter, string]")
            delim = self.resolve(arg[0], where)
            text = self.as_string(self.resolve(arg[1], where), where, expr)
            return text.split(str(delim))
        if key == "Fn::If":
            if not isinstance(arg, list) or len(arg) != 3:
                raise bad("Fn::If needs [condition, value_if_true, value_if_false]")
            branch = arg[1] if self.condition(str(arg[0])) else arg[2]
            return self.resolve(branch, where)
        if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self.eval_condition(expr, where)
        if key == "Fn::FindInMap":
            if not isinstance(arg, list) or len(arg) < 3:
                raise bad("Fn::FindInMap needs [map, top key, second key]")
            m, k1, k2 = (self.resolve(a, where) for a in arg[:3])
            try:
                return self.mappings[m][k1][k2]
            except (KeyError, TypeError):
                if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                    return self.resolve(arg[3]["DefaultValue"], where)
                raise bad(f"Fn::FindInMap: no entry {m}/{k1}/{k2} in Mappings") from None
        if key == "Fn::Base64":
            text = self.as_string(self.resolve(arg, where), where, expr)
            return base64.b64encode(text.encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{REGION}{c}" for c in "abcdef"]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg, where), separators=(",", ":"))
        raise bad(f"{key} cannot be resolved locally")

    _SUB_RE = re.compile(r"\$\{([^}]*)\}")

    def sub(self, arg: Any, expr: Any, where: str) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) \
                and isinstance(arg[1], dict):
            text, variables = arg[0], arg[1]
        else:
            raise LocalAwsError(f"{where}: Fn::Sub needs a string or [string, {{vars}}]: "
                                f"{expr_text(expr)}")

        def repl(m: re.Match) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"  # ${!Literal} -> ${Literal}
            name = inner.strip()
            if name in variables:
                value = self.resolve(variables[name], where)
            elif "." in name and not name.startswith("AWS::"):
                res, attr = name.split(".", 1)
                value = self.get_att([res, attr], where)
            else:
                value = self.ref(name, where)
            return self.as_string(value, where, expr)

        return self._SUB_RE.sub(repl, text)

    def as_string(self, value: Any, where: str, expr: Any) -> str:
        if value is NO_VALUE or isinstance(value, (list, dict)):
            raise LocalAwsError(f"{where}: expected a string value in {expr_text(expr)}, "
                                f"got {expr_text(value if value is not NO_VALUE else 'AWS::NoValue')}")
        return scalar_str(value)


def scalar_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def normalize_cmp(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return scalar_str(value)
    return value


# --------------------------------------------------------------------------- dependencies


def referenced_names(value: Any) -> set[str]:
    """Logical names mentioned by Ref / GetAtt / Sub anywhere inside value."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, list):
            for i in v:
                walk(i)
        elif isinstance(v, dict):
            for k, a in v.items():
                if k == "Ref" and isinstance(a, str):
                    found.add(a)
                elif k == "Fn::GetAtt":
                    if isinstance(a, list) and a and isinstance(a[0], str):
                        found.add(a[0])
                    elif isinstance(a, str):
                        found.add(a.split(".", 1)[0])
                elif k == "Fn::Sub":
                    text = a if isinstance(a, str) else (a[0] if isinstance(a, list) and a else "")
                    local_vars = a[1] if isinstance(a, list) and len(a) > 1 and \
                        isinstance(a[1], dict) else {}
                    if isinstance(text, str):
                        for m in Resolver._SUB_RE.finditer(text):
                            inner = m.group(1).strip()
                            if inner.startswith("!") or inner in local_vars:
                                continue
                            found.add(inner.split(".", 1)[0])
                    walk(local_vars)
                    continue
                walk(a)

    walk(value)
    return found


def creation_order(resources: dict, ids: list[str]) -> list[str]:
    """Topologically sort the emulated resources; template order breaks ties."""
    wanted = set(ids)
    deps: dict[str, set[str]] = {}
    for lid in ids:
        res = resources[lid] or {}
        d = referenced_names(res.get("Properties") or {})
        depends_on = res.get("DependsOn") or []
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        d.update(x for x in depends_on if isinstance(x, str))
        deps[lid] = {x for x in d if x in wanted and x != lid}
    order: list[str] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(lid: str) -> None:
        if lid in done:
            return
        if lid in visiting:
            cycle = visiting[visiting.index(lid):] + [lid]
            raise LocalAwsError("dependency cycle between resources: " + " -> ".join(cycle))
        visiting.append(lid)
        for dep in sorted(deps[lid], key=ids.index):
            visit(dep)
        visiting.pop()
        done.add(lid)
        order.append(lid)

    for lid in ids:
        visit(lid)
    return order


# --------------------------------------------------------------------------- translation


def as_int(value: Any, where: str, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise LocalAwsError(f"{where}: {what} must be an integer, got {value!r}") from None


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def throughput(spec: Any, where: str) -> dict:
    if not isinstance(spec, dict):
        raise LocalAwsError(f"{where}: ProvisionedThroughput must be a mapping")
    try:
        return {
            "ReadCapacityUnits": as_int(spec["ReadCapacityUnits"], where, "ReadCapacityUnits"),
            "WriteCapacityUnits": as_int(spec["WriteCapacityUnits"], where, "WriteCapacityUnits"),
        }
    except KeyError as exc:
        raise LocalAwsError(f"{where}: ProvisionedThroughput lacks {exc.args[0]}") from None


def projection(spec: Any, where: str) -> dict:
    if not isinstance(spec, dict):
        raise LocalAwsError(f"{where}: Projection is required and must be a mapping")
    out = {"ProjectionType": str(spec.get("ProjectionType", "KEYS_ONLY"))}
    if spec.get("NonKeyAttributes"):
        out["NonKeyAttributes"] = [str(a) for a in spec["NonKeyAttributes"]]
    return out


def key_schema(spec: Any, where: str) -> list[dict]:
    if not isinstance(spec, list) or not spec:
        raise LocalAwsError(f"{where}: KeySchema must be a non-empty list")
    out = []
    for k in spec:
        if not isinstance(k, dict) or "AttributeName" not in k or "KeyType" not in k:
            raise LocalAwsError(f"{where}: bad KeySchema entry {expr_text(k)}")
        out.append({"AttributeName": str(k["AttributeName"]), "KeyType": str(k["KeyType"])})
    return out


def table_request(lid: str, res: dict, props: dict, name: str) -> tuple[dict, dict | None]:
    """CloudFormation table properties -> (boto3 create_table kwargs, TTL spec or None)."""
    where = f"table {lid}"
    if res.get("Type") == "AWS::Serverless::SimpleTable":
        pk = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        types = {"String": "S", "Number": "N", "Binary": "B"}
        ptype = types.get(str(pk.get("Type", "String")))
        if ptype is None:
            raise LocalAwsError(f"{where}: PrimaryKey.Type must be String, Number or Binary")
        req: dict = {
            "TableName": name,
            "KeySchema": [{"AttributeName": str(pk["Name"]), "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": str(pk["Name"]), "AttributeType": ptype}],
        }
        if props.get("ProvisionedThroughput"):
            req["BillingMode"] = "PROVISIONED"
            req["ProvisionedThroughput"] = throughput(props["ProvisionedThroughput"], where)
        else:
            req["BillingMode"] = "PAY_PER_REQUEST"
        return req, None

    billing = str(props.get("BillingMode", "PROVISIONED"))
    if billing not in ("PROVISIONED", "PAY_PER_REQUEST"):
        raise LocalAwsError(f"{where}: unknown BillingMode {billing!r}")
    provisioned = billing == "PROVISIONED"
    attr_defs = props.get("AttributeDefinitions")
    if not isinstance(attr_defs, list) or not attr_defs:
        raise LocalAwsError(f"{where}: AttributeDefinitions must be a non-empty list")
    req = {
        "TableName": name,
        "KeySchema": key_schema(props.get("KeySchema"), where),
        "AttributeDefinitions": [
            {"AttributeName": str(a["AttributeName"]), "AttributeType": str(a["AttributeType"])}
            for a in attr_defs
        ],
        "BillingMode": billing,
    }
    if provisioned:
        if "ProvisionedThroughput" not in props:
            raise LocalAwsError(f"{where}: ProvisionedThroughput is required unless "
                                "BillingMode is PAY_PER_REQUEST")
        req["ProvisionedThroughput"] = throughput(props["ProvisionedThroughput"], where)
    gsis = []
    for g in props.get("GlobalSecondaryIndexes") or []:
        gwhere = f"{where} index {g.get('IndexName')}"
        item = {
            "IndexName": str(g["IndexName"]),
            "KeySchema": key_schema(g.get("KeySchema"), gwhere),
            "Projection": projection(g.get("Projection"), gwhere),
        }
        if provisioned:
            if "ProvisionedThroughput" not in g:
                raise LocalAwsError(f"{gwhere}: ProvisionedThroughput is required unless "
                                    "BillingMode is PAY_PER_REQUEST")
            item["ProvisionedThroughput"] = throughput(g["ProvisionedThroughput"], gwhere)
        gsis.append(item)
    if gsis:
        req["GlobalSecondaryIndexes"] = gsis
    lsis = []
    for idx in props.get("LocalSecondaryIndexes") or []:
        lwhere = f"{where} index {idx.get('IndexName')}"
        lsis.append({
            "IndexName": str(idx["IndexName"]),
            "KeySchema": key_schema(idx.get("KeySchema"), lwhere),
            "Projection": projection(idx.get("Projection"), lwhere),
        })
    if lsis:
        req["LocalSecondaryIndexes"] = lsis
    stream = props.get("StreamSpecification")
    if isinstance(stream, dict) and stream.get("StreamViewType"):
        req["StreamSpecification"] = {"StreamEnabled": True,
                                      "StreamViewType": str(stream["StreamViewType"])}
    ttl = None
    ttl_spec = props.get("TimeToLiveSpecification")
    if isinstance(ttl_spec, dict) and as_bool(ttl_spec.get("Enabled", False)):
        if not ttl_spec.get("AttributeName"):
            raise LocalAwsError(f"{where}: TimeToLiveSpecification needs AttributeName")
        ttl = {"Enabled": True, "AttributeName": str(ttl_spec["AttributeName"])}
    # SSESpecification, PointInTimeRecoverySpecification, Tags, DeletionProtectionEnabled,
    # TableClass, ContributorInsights, Kinesis streams, ... are ignored locally.
    return req, ttl


QUEUE_ATTRS = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "DelaySeconds",
    "MaximumMessageSize",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


def queue_attributes(lid: str, props: dict) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for key in QUEUE_ATTRS:
        if key in props and props[key] is not None:
            attrs[key] = scalar_str(props[key])
    if as_bool(props.get("FifoQueue", False)):
        attrs["FifoQueue"] = "true"
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        pol = props.get(key)
        if pol is None:
            continue
        if isinstance(pol, str):
            attrs[key] = pol
        elif isinstance(pol, dict):
            pol = dict(pol)
            if "maxReceiveCount" in pol:
                pol["maxReceiveCount"] = as_int(pol["maxReceiveCount"], f"queue {lid}",
                                                "maxReceiveCount")
            attrs[key] = json.dumps(pol, separators=(",", ":"))
        else:
            raise LocalAwsError(f"queue {lid}: {key} must be a mapping")
    # KmsMasterKeyId, SqsManagedSseEnabled, Tags, ... are ignored locally.
    return attrs


def physical_name(lid: str, props: dict, key: str, resolver: Resolver, fifo: bool = False) -> str:
    if props.get(key) is not None:
        name = resolver.as_string(props[key], f"{lid}.{key}", props[key])
        if fifo and not name.endswith(".fifo"):
            raise LocalAwsError(f"queue {lid}: {key} {name!r} of a FIFO queue must end in .fifo")
        return name
    name = f"{resolver.stack}-{lid}"
    return name + ".fifo" if fifo else name


# --------------------------------------------------------------------------- environment

EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def function_env(template: dict, resolver: Resolver) -> dict[str, str]:
    """Union of the function environments, each being Globals merged with its own."""
    glob = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {})
    glob_vars = glob.get("Variables") or {}
    if not isinstance(glob_vars, dict):
        raise LocalAwsError("Globals.Function.Environment.Variables must be a mapping")

    def resolve_vars(variables: dict, owner: str) -> dict[str, str]:
        out = {}
        for k, v in variables.items():
            where = f"environment variable {k} of {owner}"
            r = resolver.resolve(v, where)
            if r is NO_VALUE:
                continue
            out[str(k)] = resolver.as_string(r, where, v)
        return out

    globals_resolved = resolve_vars(glob_vars, "Globals.Function")
    merged: dict[str, str] = {}
    source: dict[str, str] = {}
    found_function = False
    for lid, res in (template.get("Resources") or {}).items():
        res = res or {}
        rtype = res.get("Type")
        if rtype not in FUNCTION_TYPES or not resolver.resource_enabled(lid):
            continue
        found_function = True
        env = ((res.get("Properties") or {}).get("Environment") or {})
        own = env.get("Variables") or {} if isinstance(env, dict) else {}
        if not isinstance(own, dict):
            raise LocalAwsError(f"{lid}: Environment.Variables must be a mapping")
        effective = dict(globals_resolved) if rtype == "AWS::Serverless::Function" else {}
        effective.update(resolve_vars(own, f"function {lid}"))
        for k, v in effective.items():
            if k in merged and merged[k] != v:
                raise LocalAwsError(
                    f"environment variable {k} differs between functions: {source[k]} gives "
                    f"{merged[k]!r}, {lid} gives {v!r}; the local stack needs one value")
            merged.setdefault(k, v)
            source.setdefault(k, lid)
    if not found_function:
        merged = dict(globals_resolved)
    return merged


def http_routes(template: dict) -> list[dict]:
    """The HTTP API's routes, for the local runner's API Gateway stand-in: method, path
    template, the function's binary and whether the route sits behind the JWT authorizer."""
    routes = []
    for lid, res in (template.get("Resources") or {}).items():
        if (res or {}).get("Type") != "AWS::Serverless::Function":
            continue
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary", lid)
        for event in ((res.get("Properties") or {}).get("Events") or {}).values():
            if (event or {}).get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            authorizer = (props.get("Auth") or {}).get("Authorizer")
            routes.append({
                "method": str(props.get("Method", "ANY")).upper(),
                "path": props.get("Path", "/"),
                "function": lid,
                "binary": binary,
                "auth": "none" if authorizer == "NONE" else "jwt",
            })
    return sorted(routes, key=lambda r: (r["path"], r["method"]))


def sender_emails(template: dict, resolver: Resolver, env: dict[str, str]) -> list[str]:
    found: list[str] = []
    candidates = [(k, v) for k, v in env.items()]
    candidates += [(k, v) for k, v in resolver.param_values.items() if isinstance(v, str)]
    for key, value in candidates:
        upper = key.upper()
        if "SENDER" not in upper and "FROM" not in upper:
            continue
        for m in EMAIL_RE.finditer(value):
            if m.group(0) not in found:
                found.append(m.group(0))
    return found


# --------------------------------------------------------------------------- moto server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    tail = text[-lines:]
    return "\n".join("    " + line for line in tail) if tail else "    (log is empty)"


def _set_pdeathsig() -> None:
    """In the server child: die with SIGTERM if this script dies without cleaning up."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class MotoServer:
    def __init__(self, log_path: Path, startup_timeout: float) -> None:
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self._fresh_log = True

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        for attempt in range(3):
            self.port = free_port()
            if self._start_once(last=attempt == 2):
                return

    def _start_once(self, last: bool) -> bool:
        env = clean_env(os.environ)
        env["MOTO_PORT"] = str(self.port)
        env.pop("TEST_SERVER_MODE", None)
        env["PYTHONUNBUFFERED"] = "1"
        logfh = self.log_path.open("wb" if self._fresh_log else "ab")  # one run per log
        self._fresh_log = False
        logfh.write(f"===== moto server on port {self.port} at {time.ctime()} =====\n".encode())
        logfh.flush()
        # moto's own server runs requests concurrently, which its backends do not survive
        # (see moto_serial_server.py).
        cmd = [sys.executable, str(Path(__file__).with_name("moto_serial_server.py")), HOST, str(self.port)]
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logfh, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # Ctrl-C in the terminal is ours to handle
                preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
                cwd=str(self.log_path.parent),
            )
        finally:
            logfh.close()
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.endpoint}/moto-api/"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                tail = log_tail(self.log_path)
                if "Address already in use" in tail and not last:
                    log(f"port {self.port} was taken, retrying with another one")
                    return False
                hint = ""
                if "No module named" in tail:
                    hint = "\n  (is moto[server] installed for this Python? " \
                           "pip install -r scripts/requirements.txt)"
                raise LocalAwsError(f"moto server exited with code {rc} during startup; "
                                    f"last lines of {self.log_path}:\n{tail}{hint}")
            try:
                with opener.open(url, timeout=1) as resp:
                    if resp.status < 500:
                        return True
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return True
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise LocalAwsError(
                    f"moto server did not answer on {url} within {self.startup_timeout:.0f} s; "
                    f"last lines of {self.log_path}:\n{log_tail(self.log_path)}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log("moto server ignored SIGTERM; killing it")
                self._signal(proc, signal.SIGKILL)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    log(f"could not kill moto server (pid {proc.pid})")
                    return
        log("moto server stopped")

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)  # its own session: also reaches any helper it spawned
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass


def clean_env(base: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items()
           if k not in UNSET_VARS and not k.startswith("AWS_ENDPOINT_URL_")}
    for key in ("NO_PROXY", "no_proxy"):
        parts = [p for p in env.get(key, "").split(",") if p]
        for host in (HOST, "localhost"):
            if host not in parts:
                parts.append(host)
        env[key] = ",".join(parts)
    return env


# --------------------------------------------------------------------------- stack setup


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.template_path = Path(args.template).resolve()
        self.local_dir = Path(args.local_dir).resolve()
        self.server = MotoServer(self.local_dir / "moto.log", args.startup_timeout)
        self.env: dict[str, str] = {}
        self.env_file = self.local_dir / "stack.env"
        self.tables_file = self.local_dir / "tables.json"
        self.resources_file = self.local_dir / "resources.json"
        self.secret_values = parse_pairs(args.secret, "--secret")

    def start(self) -> None:
        template = load_template(self.template_path)
        resolver = Resolver(template, self.args.stack_name, parse_params(self.args.param))
        try:
            self.local_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalAwsError(f"cannot create {self.local_dir}: {exc}") from None
        log(f"starting moto server (log: {self.server.log_path})")
        self.server.start()
        log(f"moto server up at {self.server.endpoint}")
        os.environ.update(clean_env(os.environ))  # our own boto3 calls must not use a proxy
        for var in UNSET_VARS:
            os.environ.pop(var, None)

        clients = Clients(self.server.endpoint)
        table_specs = self._create_resources(template, resolver, clients)
        fn_env = function_env(template, resolver)
        for email in sender_emails(template, resolver, fn_env):
            clients.get("ses").verify_email_identity(EmailAddress=email)
            log(f"verified SES sender {email}")

        base = {
            "AWS_ENDPOINT_URL": self.server.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "LOCAL_AWS": "1",
            "LOCAL_TABLE_SPECS": str(self.tables_file),
            "LOCAL_AWS_RESOURCES": str(self.resources_file),
        }
        for k in fn_env:
            if k in base and fn_env[k] != base[k]:
                log(f"warning: template variable {k}={fn_env[k]!r} replaced by local {base[k]!r}")
        self.env = {**fn_env, **base}

        resources = {
            "endpoint": self.server.endpoint,
            "region": REGION,
            "account_id": ACCOUNT_ID,
            "stack_name": resolver.stack,
            "tables": resolver.tables,
            "queues": resolver.queues,
            "secrets": resolver.secrets,
            "routes": http_routes(template),
        }
        write_atomic(self.tables_file, json.dumps(table_specs, indent=2) + "\n")
        write_atomic(self.resources_file, json.dumps(resources, indent=2) + "\n")
        lines = ["# written by scripts/local_aws.py; valid while its moto server runs"]
        lines += [f"unset {v}" for v in UNSET_VARS]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        write_atomic(self.env_file, "\n".join(lines) + "\n")
        log(f"environment written to {self.env_file}")

    def _create_resources(self, template: dict, resolver: Resolver, clients: "Clients") -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        resources = template.get("Resources") or {}
        ids = []
        for lid, res in resources.items():
            rtype = (res or {}).get("Type")
            if rtype in CREATED_TYPES:
                if resolver.resource_enabled(lid):
                    ids.append(lid)
                else:
                    log(f"skipping {lid}: its Condition is false")
        table_specs: dict[str, dict] = {}
        for lid in creation_order(resources, ids):
            res = resources[lid]
            props = resolver.resolve(res.get("Properties") or {}, f"resource {lid}")
            try:
                if res.get("Type") == QUEUE_TYPE:
                    self._create_queue(lid, props, resolver, clients)
                elif res.get("Type") == SECRET_TYPE:
                    self._create_secret(lid, props, resolver, clients)
                else:
                    table_specs[lid] = self._create_table(lid, res, props, resolver, clients)
            except (ClientError, BotoCoreError) as exc:
                raise LocalAwsError(f"creating {lid} failed: {exc}") from None
        unknown = set(self.secret_values) - set(resolver.secrets)
        if unknown:
            raise LocalAwsError(f"--secret names no secret of the template: {', '.join(sorted(unknown))}")
        if not ids:
            log("the template declares no DynamoDB tables, SQS queues or secrets")
        return table_specs

    def _create_table(self, lid, res, props, resolver, clients) -> dict:
        ddb = clients.get("dynamodb")
        name = physical_name(lid, props, "TableName", resolver)
        request, ttl = table_request(lid, res, props, name)
        ddb.create_table(**request)
        ddb.get_waiter("table_exists").wait(TableName=name,
                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        if ttl:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        desc = ddb.describe_table(TableName=name)["Table"]
        resolver.tables[lid] = {
            "name": name,
            "arn": desc.get("TableArn") or f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}",
            "stream_arn": desc.get("LatestStreamArn"),
            "ttl_attribute": ttl["AttributeName"] if ttl else None,
        }
        extras = []
        if request.get("GlobalSecondaryIndexes"):
            extras.append(f"{len(request['GlobalSecondaryIndexes'])} GSI")
        if request.get("StreamSpecification"):
            extras.append("stream")
        if ttl:
            extras.append("TTL")
        log(f"created table {name} ({lid})" + (f" [{', '.join(extras)}]" if extras else ""))
        return request

    def _create_queue(self, lid, props, resolver, clients) -> None:
        sqs = clients.get("sqs")
        fifo = as_bool(props.get("FifoQueue", False))
        name = physical_name(lid, props, "QueueName", resolver, fifo=fifo)
        attrs = queue_attributes(lid, props)
        url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        # Attributes are kept so tests can create isolated copies of a queue pair.
        resolver.queues[lid] = {"name": name, "url": url, "arn": arn, "attributes": attrs}
        log(f"created queue {name} ({lid})" + (" [redrive]" if "RedrivePolicy" in attrs else ""))

    def _create_secret(self, lid, props, resolver, clients) -> None:
        import secrets as random_source

        name = physical_name(lid, props, "Name", resolver)
        if lid in self.secret_values:
            value = self.secret_values[lid]
        elif "SecretString" in props:
            value = resolver.as_string(props["SecretString"], f"resource {lid}", props["SecretString"])
        elif "GenerateSecretString" in props:
            spec = props["GenerateSecretString"] or {}
            if "SecretStringTemplate" in spec:
                raise LocalAwsError(f"resource {lid}: GenerateSecretString with a "
                                    "SecretStringTemplate is not emulated locally")
            length = as_int(spec.get("PasswordLength", 32), f"resource {lid}", "PasswordLength")
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            value = "".join(random_source.choice(alphabet) for _ in range(length))
        else:
            raise LocalAwsError(f"resource {lid}: a secret needs SecretString or GenerateSecretString")
        arn = clients.get("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
        resolver.secrets[lid] = {"name": name, "arn": arn}
        log(f"created secret {name} ({lid})")

    def stop(self) -> None:
        self.server.stop()


class Clients:
    def __init__(self, endpoint: str) -> None:
        import boto3
        from botocore.config import Config

        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        self.endpoint = endpoint
        self.config = Config(retries={"max_attempts": 3, "mode": "standard"},
                             connect_timeout=5, read_timeout=30)
        self._cache: dict[str, Any] = {}

    def get(self, service: str):
        if service not in self._cache:
            self._cache[service] = self.session.client(
                service, endpoint_url=self.endpoint, config=self.config)
        return self._cache[service]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def parse_pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise LocalAwsError(f"{option} expects NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def parse_params(items: list[str] | None) -> dict[str, str]:
    return parse_pairs(items, "--param")


# --------------------------------------------------------------------------- signals/commands


class SignalState:
    def __init__(self) -> None:
        self.child: subprocess.Popen | None = None
        self.received: int | None = None
        self.stopping = False  # set while the server is being stopped: finish that first

    def handler(self, signum, _frame) -> None:
        if self.stopping:
            return
        if self.child is None:
            raise Interrupted(signum)
        if self.received is None:
            self.received = signum
        # A terminal Ctrl-C already reaches the child (same process group); forward the rest.
        if signum != signal.SIGINT and self.child.poll() is None:
            try:
                self.child.send_signal(signum)
            except ProcessLookupError:
                pass

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.handler)


def run_child(cmd: list[str], env: dict[str, str], state: SignalState) -> int:
    try:
        child = subprocess.Popen(cmd, env=env)
    except FileNotFoundError:
        log(f"command not found: {cmd[0]}")
        return 127
    except PermissionError:
        log(f"command not executable: {cmd[0]}")
        return 126
    state.child = child
    escalate_at = None
    escalated = 0
    while True:
        try:
            rc = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        if state.received is not None:
            now = time.monotonic()
            if escalate_at is None:
                escalate_at = now + 10
            elif now >= escalate_at:
                sig = signal.SIGTERM if escalated == 0 else signal.SIGKILL
                log(f"command still running after {signal.Signals(state.received).name}; "
                    f"sending {sig.name}")
                try:
                    child.send_signal(sig)
                except ProcessLookupError:
                    pass
                escalated += 1
                escalate_at = now + 5
    return 128 - rc if rc < 0 else rc


def cmd_run(args: argparse.Namespace, state: SignalState) -> int:
    cmd = list(args.cmd or [])
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise LocalAwsError("run needs a command: local_aws.py run [options] -- CMD ARGS...")
    stack = Stack(args)
    try:
        stack.start()
        env = clean_env(os.environ)
        env.update(stack.env)
        log(f"running: {shlex.join(cmd)}")
        rc = run_child(cmd, env, state)
        state.child = None
        if rc != 0:
            log(f"command exited with code {rc}")
        return rc
    finally:
        state.child = None
        state.stopping = True
        stack.stop()


def cmd_serve(args: argparse.Namespace, state: SignalState) -> int:
    stack = Stack(args)
    try:
        stack.start()
        print(f"endpoint: {stack.server.endpoint}", flush=True)
        print(f"env file: {stack.env_file}   (source it: . {shlex.quote(str(stack.env_file))})",
              flush=True)
        log("serving; press Ctrl-C to stop")
        while True:
            proc = stack.server.proc
            if proc is None:
                return 1
            try:
                rc = proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
            stack.server.proc = None
            raise LocalAwsError(f"moto server exited unexpectedly with code {rc}; last lines of "
                                f"{stack.server.log_path}:\n{log_tail(stack.server.log_path)}")
    except Interrupted as exc:
        log(f"received {exc}; stopping")
        return 0
    finally:
        state.stopping = True
        stack.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="local_aws.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  local_aws.py run -- cargo test -p tests\n"
               "  local_aws.py serve --template template.yaml\n",
    )
    sub = parser.add_subparsers(dest="command", metavar="{run,serve}")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--template", default=str(REPO_ROOT / "template.yaml"),
                       help="SAM/CloudFormation template (default: %(default)s)")
        p.add_argument("--stack-name", default=DEFAULT_STACK,
                       help="local stack name, used for AWS::StackName and default resource "
                            "names (default: %(default)s)")
        p.add_argument("--param", action="append", metavar="NAME=VALUE",
                       help="override a template parameter (repeatable)")
        p.add_argument("--secret", action="append", metavar="LOGICAL_ID=VALUE",
                       help="initial value of a template secret (repeatable)")
        p.add_argument("--local-dir", default=str(REPO_ROOT / ".local"),
                       help="where stack.env, tables.json, resources.json and moto.log go "
                            "(default: %(default)s)")
        p.add_argument("--startup-timeout", type=float, default=20.0,
                       help="seconds to wait for the moto server (default: %(default)s)")

    p_run = sub.add_parser("run", help="start the stack, run CMD in it, stop the stack",
                           usage="local_aws.py run [options] -- CMD ARGS...")
    common(p_run)
    p_run.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run (after --)")
    p_serve = sub.add_parser("serve", help="start the stack and keep it up until Ctrl-C")
    common(p_serve)
    return parser


def check_packages() -> None:
    """Fail early, and clearly, when this Python lacks the tooling's packages."""
    import importlib.util

    missing = [mod for mod in ("yaml", "boto3", "botocore", "moto", "flask", "flask_cors")
               if importlib.util.find_spec(mod) is None]
    if missing:
        raise LocalAwsError(
            f"{sys.executable} lacks the Python module(s) {', '.join(missing)}; install the "
            f"tooling with: {sys.executable} -m pip install -r {SCRIPT_DIR / 'requirements.txt'}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    state = SignalState()
    state.install()
    try:
        check_packages()
        if args.command == "run":
            return cmd_run(args, state)
        return cmd_serve(args, state)
    except LocalAwsError as exc:
        log(f"error: {exc}")
        return 1
    except Interrupted as exc:
        log(f"interrupted by {exc}")
        return 128 + exc.signum
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
