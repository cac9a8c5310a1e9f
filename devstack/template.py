"""Create the synthesized CloudFormation template's resources in moto.

Only the resource types the product runs on are created (tables, buckets,
topics, queues, secrets, functions, state machines); IAM, logs, API Gateway
and the like have no local behaviour worth emulating. Intrinsic functions are
resolved from the template itself, so the local state machine definition is
the synthesized one, token for token.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
PARTITION = "aws"
LOCAL_ROLE_NAME = "videohook-local-role"


@dataclass
class LocalResource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    physical_name: str
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


def _physical_name(stack: str, logical_id: str, resource_type: str) -> str:
    name = f"{stack}-{logical_id}"
    if resource_type == "AWS::S3::Bucket":
        return re.sub(r"[^a-z0-9-]", "", name.lower())[:63]
    return name[:64]


class TemplateResolver:
    """Knows every supported resource's local name and ARN, and resolves intrinsics to them."""

    SUPPORTED = (
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::SecretsManager::Secret",
        "AWS::Lambda::Function",
        "AWS::StepFunctions::StateMachine",
    )

    def __init__(self, template: dict[str, Any], *, region: str, stack_name: str, endpoint: str) -> None:
        self.template = template
        self.region = region
        self.stack_name = stack_name
        self.endpoint = endpoint
        self.resources: dict[str, LocalResource] = {}
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] in self.SUPPORTED:
                self.resources[logical_id] = self._describe(logical_id, resource)

    def _describe(self, logical_id: str, resource: dict[str, Any]) -> LocalResource:
        kind = resource["Type"]
        props = resource.get("Properties", {})
        name = _physical_name(self.stack_name, logical_id, kind)
        r, a = self.region, ACCOUNT
        if kind == "AWS::DynamoDB::Table":
            arn = f"arn:{PARTITION}:dynamodb:{r}:{a}:table/{name}"
            return LocalResource(logical_id, kind, props, name, name, {"Arn": arn})
        if kind == "AWS::S3::Bucket":
            arn = f"arn:{PARTITION}:s3:::{name}"
            return LocalResource(
                logical_id, kind, props, name, name, {"Arn": arn, "RegionalDomainName": name}
            )
        if kind == "AWS::SNS::Topic":
            arn = f"arn:{PARTITION}:sns:{r}:{a}:{name}"
            return LocalResource(logical_id, kind, props, name, arn, {"TopicArn": arn, "TopicName": name})
        if kind == "AWS::SQS::Queue":
            arn = f"arn:{PARTITION}:sqs:{r}:{a}:{name}"
            url = f"{self.endpoint}/{a}/{name}"
            return LocalResource(
                logical_id, kind, props, name, url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
            )
        if kind == "AWS::SecretsManager::Secret":
            # moto appends a random suffix to secret ARNs; the real one is filled in at creation.
            return LocalResource(logical_id, kind, props, name, name, {})
        if kind == "AWS::Lambda::Function":
            arn = f"arn:{PARTITION}:lambda:{r}:{a}:function:{name}"
            return LocalResource(logical_id, kind, props, name, name, {"Arn": arn})
        arn = f"arn:{PARTITION}:states:{r}:{a}:stateMachine:{name}"
        return LocalResource(logical_id, kind, props, name, arn, {"Arn": arn, "Name": name})

    def of_type(self, kind: str) -> list[LocalResource]:
        return [res for res in self.resources.values() if res.type == kind]

    # ---- intrinsic functions -------------------------------------------------

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }.get(name)

    def _ref(self, name: str) -> str:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.resources:
            return self.resources[name].ref
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None and "Default" in parameter:
            return str(parameter["Default"])
        raise KeyError(f"the local stack cannot resolve Ref {name}")

    def _get_att(self, name: str, attribute: str) -> str:
        if name not in self.resources or attribute not in self.resources[name].attributes:
            raise KeyError(f"the local stack cannot resolve Fn::GetAtt {name}.{attribute}")
        return self.resources[name].attributes[attribute]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                return self._get_att(parts[0], parts[1])
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(self.resolve(item)) for item in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Sub":
                return self._sub(arg)
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(*name.split(".", 1))
            return self._ref(name)

        resolved = re.sub(r"\$\{([^}!][^}]*)\}", replace, text)
        return resolved.replace("${!", "${")  # CloudFormation's escape for a literal ${


def _lambda_zip() -> bytes:
    # moto wants a zip; the code itself runs in-process from this checkout.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "videohook local stack: handlers run in-process\n")
    return buffer.getvalue()


def create_resources(
    resolver: TemplateResolver, session: Any, *, secret_values: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Create every supported resource in moto; return each Lambda function's resolved environment.

    `secret_values` maps a secret's logical id to the value to store in it.
    """
    endpoint = resolver.endpoint
    clients = {
        name: session.client(name, endpoint_url=endpoint)
        for name in ("dynamodb", "s3", "sns", "sqs", "secretsmanager", "lambda", "stepfunctions", "iam")
    }

    for table in resolver.of_type("AWS::DynamoDB::Table"):
        props = table.properties
        args: dict[str, Any] = {
            "TableName": table.physical_name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        clients["dynamodb"].create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            clients["dynamodb"].update_time_to_live(
                TableName=table.physical_name, TimeToLiveSpecification=ttl
            )

    for bucket in resolver.of_type("AWS::S3::Bucket"):
        if resolver.region == "us-east-1":
            clients["s3"].create_bucket(Bucket=bucket.physical_name)
        else:
            clients["s3"].create_bucket(
                Bucket=bucket.physical_name,
                CreateBucketConfiguration={"LocationConstraint": resolver.region},
            )
        lifecycle = bucket.properties.get("LifecycleConfiguration")
        if lifecycle:
            clients["s3"].put_bucket_lifecycle_configuration(
                Bucket=bucket.physical_name, LifecycleConfiguration=_s3_lifecycle(lifecycle)
            )

    for topic in resolver.of_type("AWS::SNS::Topic"):
        clients["sns"].create_topic(Name=topic.physical_name)

    for queue in resolver.of_type("AWS::SQS::Queue"):
        clients["sqs"].create_queue(QueueName=queue.physical_name)

    for secret in resolver.of_type("AWS::SecretsManager::Secret"):
        created = clients["secretsmanager"].create_secret(
            Name=secret.physical_name, SecretString=secret_values.get(secret.logical_id, "")
        )
        secret.ref = created["ARN"]

    role_arn = clients["iam"].create_role(
        RoleName=LOCAL_ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]

    environments: dict[str, dict[str, str]] = {}
    code = _lambda_zip()
    for function in resolver.of_type("AWS::Lambda::Function"):
        props = function.properties
        variables = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        environments[props["Handler"]] = {k: str(v) for k, v in variables.items()}
        clients["lambda"].create_function(
            FunctionName=function.physical_name,
            Runtime=props.get("Runtime", "python3.12"),
            Role=role_arn,
            Handler=props["Handler"],
            Code={"ZipFile": code},
            Timeout=int(props.get("Timeout", 30)),
            MemorySize=int(props.get("MemorySize", 256)),
            Environment={"Variables": environments[props["Handler"]]},
        )

    for machine in resolver.of_type("AWS::StepFunctions::StateMachine"):
        props = machine.properties
        definition = props.get("DefinitionString") or json.dumps(props.get("Definition"))
        clients["stepfunctions"].create_state_machine(
            name=machine.physical_name,
            definition=resolver.resolve(definition),
            roleArn=role_arn,
            type=props.get("StateMachineType", "STANDARD"),
        )
    return environments


def _s3_lifecycle(cfn: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle shape differs from the S3 API's; translate the parts we use."""
    rules = []
    for index, rule in enumerate(cfn.get("Rules", [])):
        api_rule: dict[str, Any] = {
            "ID": rule.get("Id", f"rule-{index}"),
            "Status": rule.get("Status", "Enabled"),
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "ExpirationInDays" in rule:
            api_rule["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        if "AbortIncompleteMultipartUpload" in rule:
            api_rule["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
            }
        rules.append(api_rule)
    return {"Rules": rules}
