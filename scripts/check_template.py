"""Checks promises of template.yaml that cfn-lint cannot know about.

- Alarms reach a person: every dead-letter queue (a queue some queue redrives to, or an
  on-failure / dead-letter destination of a function, event source or schedule) has a
  depth alarm, every function Errors and Throttles alarms, every stream consumer an
  IteratorAge alarm, and every alarm notifies AlarmTopic (whose e-mail subscription exists
  exactly when AlarmEmail is set).
- Identity: unless a JwtIssuer is brought, the stack's Cognito user pool is the issuer and
  its app client the audience; the app client can read custom:merchant_id but not write
  it; the operations group is the one tracking-http reads.
- PublicBaseUrl: a value a deploy accepts (AllowedPattern and Rules) is https.
- Secrets: no parameter is NoEcho and no function variable holds a credential; a
  variable ending in _SECRET_ARN is a Ref to an AWS::SecretsManager::Secret of the stack,
  which that function (and only a function naming it) may read.

The queues, functions and stream consumers are found by walking the template, not listed
here, so a resource added later without its alarm fails the check. Before checking the
real template the script checks that it catches a set of broken copies, so a check that
has stopped looking fails too.

Run by `./dev test`. Usage: python scripts/check_template.py [TEMPLATE]
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_aws import REPO_ROOT, LocalAwsError, Resolver, load_template  # noqa: E402

QUEUE = "AWS::SQS::Queue"
ALARM = "AWS::CloudWatch::Alarm"
FUNCTIONS = ("AWS::Serverless::Function", "AWS::Lambda::Function")
STREAM_EVENTS = ("DynamoDB", "Kinesis")
TOPIC = "AlarmTopic"


def resources(template: dict, *types: str) -> dict[str, dict]:
    return {lid: res for lid, res in (template.get("Resources") or {}).items()
            if (res or {}).get("Type") in types}


def props(res: dict) -> dict:
    return (res or {}).get("Properties") or {}


def get_att_target(value: Any, attr: str) -> str | None:
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        name, got = value["Fn::GetAtt"]
        if got == attr:
            return name
    return None


def walk(value: Any, visit: Callable[[str, Any], None]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            visit(key, child)
            walk(child, visit)
    elif isinstance(value, list):
        for child in value:
            walk(child, visit)


def dead_letter_queues(template: dict) -> set[str]:
    """Queues something gives up into: redrive targets, on-failure destinations (event
    source mappings, async invocations), Scheduler and function dead-letter configs."""
    queues = resources(template, QUEUE)
    found: set[str] = set()

    def visit(key: str, value: Any) -> None:
        candidates = []
        if key == "deadLetterTargetArn":
            candidates.append(value)
        elif key == "OnFailure" and isinstance(value, dict):
            candidates.append(value.get("Destination"))
        elif key in ("DeadLetterConfig", "DeadLetterQueue") and isinstance(value, dict):
            candidates += [value.get("Arn"), value.get("TargetArn")]
        for candidate in candidates:
            name = get_att_target(candidate, "Arn")
            if name in queues:
                found.add(name)

    walk(template.get("Resources") or {}, visit)
    return found


def stream_consumers(template: dict) -> set[str]:
    found = set()
    for lid, res in resources(template, *FUNCTIONS).items():
        for event in (props(res).get("Events") or {}).values():
            if (event or {}).get("Type") in STREAM_EVENTS:
                found.add(lid)
    for res in resources(template, "AWS::Lambda::EventSourceMapping").values():
        source = props(res).get("EventSourceArn")
        function = props(res).get("FunctionName")
        if get_att_target(source, "StreamArn") and isinstance(function, dict) and "Ref" in function:
            found.add(function["Ref"])
    return found


def fires_on_one(alarm_props: dict) -> bool:
    """True when the alarm fires as soon as the metric reaches 1."""
    try:
        threshold = float(alarm_props.get("Threshold"))
    except (TypeError, ValueError):
        return False
    op = alarm_props.get("ComparisonOperator")
    return (op == "GreaterThanThreshold" and threshold < 1) or (
        op == "GreaterThanOrEqualToThreshold" and threshold <= 1)


def alarms_on(template: dict, namespace: str, metric: str, dimension: str) -> dict[str, list]:
    """Dimension value (as written, e.g. {"Ref": "X"}) -> the alarms on that metric."""
    out: dict[str, list] = {}
    for lid, res in resources(template, ALARM).items():
        p = props(res)
        if p.get("Namespace") != namespace or p.get("MetricName") != metric:
            continue
        for dim in p.get("Dimensions") or []:
            if (dim or {}).get("Name") == dimension:
                out.setdefault(repr(dim.get("Value")), []).append((lid, p))
    return out


def check_alarms(template: dict) -> list[str]:
    problems = []
    topic = (template.get("Resources") or {}).get(TOPIC)
    if (topic or {}).get("Type") != "AWS::SNS::Topic":
        problems.append(f"{TOPIC} is not an AWS::SNS::Topic")

    dlqs = dead_letter_queues(template)
    if not dlqs:
        problems.append("no dead-letter queue found: the search has stopped looking")
    depth = alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    for queue in sorted(dlqs):
        key = repr({"Fn::GetAtt": [queue, "QueueName"]})
        if not any(fires_on_one(p) for _, p in depth.get(key, [])):
            problems.append(f"dead-letter queue {queue} has no depth alarm firing on one message")

    functions = resources(template, *FUNCTIONS)
    if not functions:
        problems.append("no function found")
    for metric in ("Errors", "Throttles"):
        by_function = alarms_on(template, "AWS/Lambda", metric, "FunctionName")
        for function in sorted(functions):
            if not any(fires_on_one(p) for _, p in by_function.get(repr({"Ref": function}), [])):
                problems.append(f"function {function} has no {metric} alarm firing on one")

    consumers = stream_consumers(template)
    if not consumers:
        problems.append("no stream consumer found: the search has stopped looking")
    iterator_age = alarms_on(template, "AWS/Lambda", "IteratorAge", "FunctionName")
    for function in sorted(consumers):
        alarms = iterator_age.get(repr({"Ref": function}), [])
        # IteratorAge is in milliseconds; a lag of more than 15 minutes is noticed too late.
        if not any(p.get("Statistic") == "Maximum" and float(p.get("Threshold", 1e12)) <= 900_000
                   for _, p in alarms):
            problems.append(f"stream consumer {function} has no IteratorAge alarm "
                            "(Maximum, at most 15 minutes)")

    for lid, res in resources(template, ALARM).items():
        if {"Ref": TOPIC} not in (props(res).get("AlarmActions") or []):
            problems.append(f"alarm {lid} does not notify {TOPIC} (AlarmActions)")

    subscriptions = [
        (lid, res) for lid, res in resources(template, "AWS::SNS::Subscription").items()
        if props(res).get("TopicArn") == {"Ref": TOPIC} and props(res).get("Protocol") == "email"
        and props(res).get("Endpoint") == {"Ref": "AlarmEmail"}
    ]
    if len(subscriptions) != 1:
        problems.append("AlarmTopic needs one email subscription to the AlarmEmail parameter")
    else:
        lid, res = subscriptions[0]
        for email, wanted in (("", False), ("ops@example.com", True)):
            if enabled(template, res, {"AlarmEmail": email}) != wanted:
                problems.append(f"{lid} must exist exactly when AlarmEmail is set "
                                f"(AlarmEmail={email!r})")
    return problems


def enabled(template: dict, res: dict, params: dict[str, str]) -> bool:
    condition = (res or {}).get("Condition")
    return True if condition is None else Resolver(template, "check", params).condition(condition)


def operations_group_name() -> str:
    source = (REPO_ROOT / "shared/http/src/lib.rs").read_text(encoding="utf-8")
    match = re.search(r'pub const OPERATIONS_GROUP: &str = "([^"]+)";', source)
    return match.group(1) if match else "<OPERATIONS_GROUP not found in tracking-http>"


def check_identity(template: dict) -> list[str]:
    problems = []
    pools = resources(template, "AWS::Cognito::UserPool")
    clients = resources(template, "AWS::Cognito::UserPoolClient")
    groups = resources(template, "AWS::Cognito::UserPoolGroup")
    if len(pools) != 1 or not clients:
        return ["the template needs one Cognito user pool and an app client"]
    (pool_id, pool), = pools.items()
    own, brought = {"JwtIssuer": ""}, {"JwtIssuer": "https://id.example.com/",
                                       "JwtAudience": "client"}
    for lid, res in [(pool_id, pool), *clients.items(), *groups.items()]:
        if not enabled(template, res, own) or enabled(template, res, brought):
            problems.append(f"{lid} must exist exactly when no JwtIssuer is brought")

    if not (props(pool).get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly"):
        problems.append(f"{pool_id}: users must be created by administrators (no self sign-up)")
    if not any((a or {}).get("Name") == "merchant_id" for a in props(pool).get("Schema") or []):
        problems.append(f"{pool_id} has no merchant_id custom attribute")
    for client_id, client in clients.items():
        writable = props(client).get("WriteAttributes")
        if writable is None or "custom:merchant_id" in writable:
            problems.append(f"{client_id} must list WriteAttributes without custom:merchant_id "
                            "(by default every attribute is writable)")
    group_name = operations_group_name()
    if not any(props(g).get("GroupName") == group_name for g in groups.values()):
        problems.append(f"no user pool group named {group_name!r} (tracking-http's operations group)")

    jwt = None
    for api in resources(template, "AWS::Serverless::HttpApi").values():
        for authorizer in ((props(api).get("Auth") or {}).get("Authorizers") or {}).values():
            jwt = (authorizer or {}).get("JwtConfiguration")
    if not jwt:
        return problems + ["the HTTP API has no JWT authorizer"]

    def issuer_and_audience(params: dict[str, str]) -> tuple[Any, Any]:
        resolver = Resolver(template, "check", params)
        # The local resolver knows no Cognito resources: let a Ref name the logical id.
        resolver.queues.update({lid: {"url": lid, "arn": lid, "name": lid}
                                for lid in (pool_id, *clients)})
        return (resolver.resolve(jwt.get("issuer"), "issuer"),
                resolver.resolve(jwt.get("audience"), "audience"))

    issuer, audience = issuer_and_audience(own)
    if issuer != f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}":
        problems.append(f"without a JwtIssuer the authorizer trusts {issuer!r}, not {pool_id}")
    if not audience or not set(audience) <= set(clients):
        problems.append(f"without a JwtIssuer the authorizer's audience is {audience!r}, "
                        "not the pool's app client")
    for client_id in set(audience or []) & set(clients):
        if "custom:merchant_id" not in (props(clients[client_id]).get("ReadAttributes") or []):
            problems.append(f"{client_id} must read custom:merchant_id (the ID token carries it)")
    if issuer_and_audience(brought) != ("https://id.example.com/", ["client"]):
        problems.append("a brought JwtIssuer/JwtAudience is not what the authorizer trusts")
    return problems


def deployable(template: dict, params: dict[str, str]) -> bool:
    """Whether CloudFormation would accept these values: patterns and Rules."""
    declared = template.get("Parameters") or {}
    for name, value in params.items():
        pattern = (declared.get(name) or {}).get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, value):
            return False
    resolver = Resolver(template, "check", params)
    for rule in (template.get("Rules") or {}).values():
        condition = rule.get("RuleCondition")
        if condition is not None and not resolver.eval_condition(condition, "RuleCondition"):
            continue
        for assertion in rule.get("Assertions") or []:
            if not resolver.eval_condition(assertion["Assert"], "Assert"):
                return False
    return True


def check_public_base_url(template: dict) -> list[str]:
    problems = []
    good: dict[str, str] = {}
    for url, wanted in (
        ("https://a1b2c3.execute-api.us-east-1.amazonaws.com", True),
        ("https://track.example.com/api", True),
        ("http://127.0.0.1:3000", False),
        ("http://api.example.com", False),
        ("http://127.0.0.1:3000.evil.example", False),
        ("http://localhost:3000", False),
        ("ftp://api.example.com", False),
    ):
        if deployable(template, {**good, "PublicBaseUrl": url}) != wanted:
            problems.append(f"PublicBaseUrl={url!r} is {'refused' if wanted else 'accepted'} "
                            "for a deploy")
    default = (template.get("Parameters") or {}).get("PublicBaseUrl", {}).get("Default")
    pattern = (template.get("Parameters") or {}).get("PublicBaseUrl", {}).get("AllowedPattern", "")
    if not default or not re.fullmatch(pattern, default):
        problems.append("PublicBaseUrl's Default (the local stack's) must match its pattern")
    if deployable(template, {**good, "JwtIssuer": "https://id.example.com/"}):
        problems.append("a brought JwtIssuer without JwtAudience is accepted for a deploy")
    return problems


SECRET_TYPE = "AWS::SecretsManager::Secret"
CREDENTIAL_WORDS = re.compile(r"SECRET|TOKEN|PASSWORD|CREDENTIAL|KEY")


def readable_secrets(function: dict) -> set[str]:
    readable = set()
    for policy in props(function).get("Policies") or []:
        if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
            ref = policy["AWSSecretsManagerGetSecretValuePolicy"].get("SecretArn")
            if isinstance(ref, dict) and "Ref" in ref:
                readable.add(ref["Ref"])
    return readable


def check_secrets(template: dict) -> list[str]:
    problems = []
    for name, param in (template.get("Parameters") or {}).items():
        if (param or {}).get("NoEcho"):
            problems.append(f"parameter {name} is NoEcho: a secret belongs in Secrets Manager, "
                            "not in the functions' configuration")
    secrets = resources(template, SECRET_TYPE)
    global_vars = ((((template.get("Globals") or {}).get("Function") or {})
                    .get("Environment") or {}).get("Variables") or {})
    for lid, function in resources(template, *FUNCTIONS).items():
        variables = {**global_vars,
                     **((props(function).get("Environment") or {}).get("Variables") or {})}
        named = set()
        for var, value in variables.items():
            if var.endswith("_SECRET_ARN"):
                target = value.get("Ref") if isinstance(value, dict) else None
                if target not in secrets:
                    problems.append(f"{lid}: {var} is not a Ref to a secret of the stack")
                    continue
                named.add(target)
            elif CREDENTIAL_WORDS.search(var):
                problems.append(f"{lid}: {var} looks like a credential in the environment")
        readable = readable_secrets(function)
        for secret in sorted(named - readable):
            problems.append(f"{lid} names {secret} but may not read it")
        for secret in sorted(readable - named):
            problems.append(f"{lid} may read {secret}, which it does not use")
    return problems


def check(template: dict) -> list[str]:
    try:
        return (check_alarms(template) + check_identity(template)
                + check_public_base_url(template) + check_secrets(template))
    except (LocalAwsError, KeyError, TypeError, ValueError) as exc:
        return [f"cannot check the template: {exc!r}"]


def broken_copies(template: dict) -> list[tuple[str, dict]]:
    """Copies of a passing template, each with one promise broken."""
    def variant(what: str, change: Callable[[dict], None]) -> tuple[str, dict]:
        t = copy.deepcopy(template)
        change(t["Resources"])
        return what, t

    def first(res: dict, rtype: str, metric: str | None = None) -> str:
        return next(lid for lid, r in res.items() if r.get("Type") == rtype and
                    (metric is None or props(r).get("MetricName") == metric))

    def new_queue_pair(res: dict) -> None:
        res["ExtraDeadLetterQueue"] = {"Type": QUEUE, "Properties": {}}
        res["ExtraQueue"] = {"Type": QUEUE, "Properties": {"RedrivePolicy": {
            "deadLetterTargetArn": {"Fn::GetAtt": ["ExtraDeadLetterQueue", "Arn"]},
            "maxReceiveCount": 5}}}

    def new_function(res: dict) -> None:
        res["ExtraFunction"] = {"Type": FUNCTIONS[0], "Properties": {"Events": {
            "Stream": {"Type": "DynamoDB", "Properties": {}},
            "Failures": {"Type": "SQS", "Properties": {"DestinationConfig": {"OnFailure": {
                "Destination": {"Fn::GetAtt": [first(res, QUEUE), "Arn"]}}}}}}}}

    def drop_write_attributes(res: dict) -> None:
        del props(res[first(res, "AWS::Cognito::UserPoolClient")])["WriteAttributes"]

    def write_merchant_id(res: dict) -> None:
        props(res[first(res, "AWS::Cognito::UserPoolClient")])["WriteAttributes"].append(
            "custom:merchant_id")

    def trust_the_parameter(res: dict) -> None:
        api = res[first(res, "AWS::Serverless::HttpApi")]
        for authorizer in props(api)["Auth"]["Authorizers"].values():
            authorizer["JwtConfiguration"]["issuer"] = {"Ref": "JwtIssuer"}

    def rename_group(res: dict) -> None:
        props(res[first(res, "AWS::Cognito::UserPoolGroup")])["GroupName"] = "ops"

    def function_named(res: dict, var: str) -> dict:
        return next(r for r in res.values() if r.get("Type") in FUNCTIONS and var in (
            (props(r).get("Environment") or {}).get("Variables") or {}))

    def plaintext_secret(res: dict) -> None:
        variables = props(function_named(res, "SHOPIFY_WEBHOOK_SECRET_ARN"))["Environment"]["Variables"]
        variables["SHOPIFY_WEBHOOK_SECRET"] = "hush"

    def unreadable_secret(res: dict) -> None:
        function = function_named(res, "STORE_CREDENTIALS_SECRET_ARN")
        props(function)["Policies"] = [p for p in props(function)["Policies"]
                                       if "AWSSecretsManagerGetSecretValuePolicy" not in p]

    def readable_by_all(res: dict) -> None:
        function = next(
            r for r in res.values() if r.get("Type") in FUNCTIONS and not readable_secrets(r))
        props(function).setdefault("Policies", []).append(
            {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "StoreCredentialsSecret"}}})

    def no_echo(t: dict) -> None:
        t["Parameters"]["ShopifyShops"]["NoEcho"] = True

    def any_http_url(t: dict) -> None:
        t["Parameters"]["PublicBaseUrl"]["AllowedPattern"] = "^https?://[^\\s?#]+$"

    copies = [
        variant("an alarm without the topic", lambda r: props(r[first(r, ALARM)]).pop("AlarmActions")),
        variant("a missing Throttles alarm", lambda r: r.pop(first(r, ALARM, "Throttles"))),
        variant("a missing Errors alarm", lambda r: r.pop(first(r, ALARM, "Errors"))),
        variant("a missing IteratorAge alarm", lambda r: r.pop(first(r, ALARM, "IteratorAge"))),
        variant("a missing depth alarm",
                lambda r: r.pop(first(r, ALARM, "ApproximateNumberOfMessagesVisible"))),
        variant("a new queue pair without alarms", new_queue_pair),
        variant("a new stream consumer without alarms", new_function),
        variant("an app client writing every attribute", drop_write_attributes),
        variant("an app client writing custom:merchant_id", write_merchant_id),
        variant("an authorizer ignoring the stack's pool", trust_the_parameter),
        variant("an operations group tracking-http does not read", rename_group),
        variant("a credential in a function's environment", plaintext_secret),
        variant("a secret its function may not read", unreadable_secret),
        variant("a secret readable by a function that does not use it", readable_by_all),
    ]
    echo = copy.deepcopy(template)
    no_echo(echo)
    copies.append(("a NoEcho parameter", echo))
    http = copy.deepcopy(template)
    any_http_url(http)
    copies.append(("http PublicBaseUrl accepted", http))
    return copies


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "template.yaml"
    template = load_template(path)
    problems = check(template)
    if not problems:
        for what, broken in broken_copies(template):
            if not check(broken):
                problems.append(f"the check misses {what}")
    for problem in problems:
        print(f"check_template: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_template: {path.name}: {len(resources(template, ALARM))} alarms notify {TOPIC}; "
          f"dead-letter queues {sorted(dead_letter_queues(template))}; stream consumers "
          f"{sorted(stream_consumers(template))}; identity, PublicBaseUrl and secrets rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
