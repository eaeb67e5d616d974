"""Create the translated template's resources in moto, with boto3, by resource type.

Why not moto's own CloudFormation (create_stack)? Tried with moto 5.2.5 on the
translated template.yaml: it fails on a Rule whose EventBusName is a Ref to an
EventBus (AttributeError in events.models._normalize_event_bus_arn); without
that, it drops S3 NotificationConfiguration (no EventBridge notifications) and
DynamoDB TimeToLiveSpecification, has no AWS::Lambda::EventInvokeConfig, and
puts state machines in the non-executing Step Functions backend, invisible to
the API once execute_state_machine is on. So resources are created here,
in dependency order, with intrinsics (Ref, GetAtt, Sub, Join, If, ...) resolved
against the physical names and ARNs created so far (intrinsics.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from fmops_local.intrinsics import IntrinsicError, Resolver, references
from fmops_local.template import SamTemplate

LOG = logging.getLogger(__name__)


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Runs from its CodeUri in an fmops local worker.\n")
    return buffer.getvalue()


# moto only needs *a* zip: the real code runs in a worker, from CodeUri.
_PLACEHOLDER_ZIP = _placeholder_zip()


@dataclass(frozen=True)
class FunctionSpec:
    """Everything needed to run one template function locally, resolved."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    max_retry_attempts: int = 2
    max_event_age_s: int = 21600
    on_failure: str | None = None
    on_success: str | None = None


@dataclass
class Resource:
    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    stack_name: str
    resources: dict[str, Resource]
    functions: dict[str, FunctionSpec]
    outputs: dict[str, Any]
    skipped: dict[str, str]  # logical id -> why it was not created in moto


class DeployError(Exception):
    pass


def physical_name(stack_name: str, logical_id: str, max_length: int, lowercase: bool = False) -> str:
    """A stable, valid name like CloudFormation's `<stack>-<LogicalId>-<suffix>`, minus the randomness."""
    name = f"{stack_name}-{logical_id}"
    if lowercase:
        name = re.sub(r"[^a-z0-9-]", "-", name.lower())
    if len(name) > max_length:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[: max_length - 9]}-{digest}"
    return name


class Deployer:
    def __init__(
        self,
        template: SamTemplate,
        session: boto3.Session,
        endpoint_url: str,
        stack_name: str,
        region: str,
        account_id: str,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        cfn = template.cfn
        self._resources_cfn: dict[str, dict[str, Any]] = cfn.get("Resources", {})
        self._parameters = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::URLSuffix": "amazonaws.com",
            **_parameter_values(cfn.get("Parameters", {}), template.parameters),
        }
        self._resolver = Resolver(self._lookup, cfn.get("Conditions"), cfn.get("Mappings"))
        self._resources: dict[str, Resource] = {}
        self._skipped: dict[str, str] = {}
        self._function_properties: dict[str, dict[str, Any]] = {}
        self._invoke_configs: dict[str, dict[str, Any]] = {}
        self._creators: dict[str, Callable[[str, dict[str, Any]], Resource]] = {
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::IAM::Role": self._role,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
            "AWS::Lambda::LayerVersion": self._layer,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Permission": self._permission,
            "AWS::Lambda::EventInvokeConfig": self._event_invoke_config,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::SageMaker::ModelPackageGroup": self._model_package_group,
            "AWS::SES::EmailIdentity": self._email_identity,
            # API Gateway resources are served by api.py, not created in moto.
            "AWS::ApiGateway::RestApi": self._served_locally,
            "AWS::ApiGateway::Deployment": self._served_locally,
            "AWS::ApiGateway::Stage": self._served_locally,
            "AWS::ApiGatewayV2::Api": self._served_locally,
            "AWS::ApiGatewayV2::Stage": self._served_locally,
        }

    # ------------------------------------------------------------------ driver
    def deploy(self) -> Deployment:
        for logical_id in self._creation_order():
            definition = self._resources_cfn[logical_id]
            if not self._condition_holds(definition.get("Condition")):
                self._skipped[logical_id] = f"condition {definition['Condition']} is false"
                continue
            kind = definition["Type"]
            creator = self._creators.get(kind)
            if creator is None:
                LOG.warning("not deployed locally: %s (%s is not supported)", logical_id, kind)
                self._skipped[logical_id] = f"{kind} is not supported by the local cloud"
                self._register(Resource(logical_id, kind, ref=logical_id))
                continue
            properties = self._resolve(definition.get("Properties", {}), logical_id)
            try:
                self._register(creator(logical_id, properties))
            except ClientError as error:
                raise DeployError(f"{logical_id} ({kind}): {error}") from error
        return Deployment(
            stack_name=self.stack_name,
            resources=self._resources,
            functions=self._function_specs(),
            outputs=self._outputs(),
            skipped=self._skipped,
        )

    def _creation_order(self) -> Iterator[str]:
        graph: dict[str, set[str]] = {}
        for logical_id, definition in self._resources_cfn.items():
            depends_on = definition.get("DependsOn", [])
            dependencies = set([depends_on] if isinstance(depends_on, str) else depends_on)
            dependencies |= references(definition.get("Properties", {}))
            graph[logical_id] = {d for d in dependencies if d in self._resources_cfn and d != logical_id}
        yield from TopologicalSorter(graph).static_order()

    def _register(self, resource: Resource) -> None:
        self._resources[resource.logical_id] = resource

    def _lookup(self, name: str, attribute: str) -> Any:
        if attribute == "Ref" and name in self._parameters:
            return self._parameters[name]
        resource = self._resources.get(name)
        if resource is None:
            raise IntrinsicError(f"{name} is not a parameter or a created resource")
        if attribute == "Ref":
            return resource.ref
        if attribute not in resource.attributes:
            raise IntrinsicError(f"{resource.type} {name} has no attribute {attribute} locally")
        return resource.attributes[attribute]

    def _resolve(self, value: Any, where: str) -> Any:
        try:
            return self._resolver.resolve(value)
        except (IntrinsicError, KeyError, IndexError, ValueError, TypeError) as error:
            raise DeployError(f"{where}: cannot resolve {json.dumps(value)[:300]}: {error}") from error

    def _condition_holds(self, name: str | None) -> bool:
        if name is None:
            return True
        try:
            return self._resolver.condition(name)
        except IntrinsicError as error:
            raise DeployError(str(error)) from error

    def _outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for name, output in self.template.cfn.get("Outputs", {}).items():
            if self._condition_holds(output.get("Condition")):
                outputs[name] = self._resolve(output["Value"], f"Outputs.{name}")
        return outputs

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)  # type: ignore[call-overload]
        return self._clients[service]

    def _name(self, logical_id: str, max_length: int, lowercase: bool = False) -> str:
        return physical_name(self.stack_name, logical_id, max_length, lowercase)

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    # ------------------------------------------------------------------ encryption
    def _kms_key(self, logical_id: str, p: dict[str, Any]) -> Resource:
        kms = self._client("kms")
        request: dict[str, Any] = {"Description": p.get("Description", logical_id)}
        if "KeyPolicy" in p:
            request["Policy"] = json.dumps(p["KeyPolicy"])
        key = kms.create_key(**request)["KeyMetadata"]
        if p.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        return Resource(
            logical_id, "AWS::KMS::Key", ref=key["KeyId"], attributes={"Arn": key["Arn"], "KeyId": key["KeyId"]}
        )

    def _kms_alias(self, logical_id: str, p: dict[str, Any]) -> Resource:
        self._client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
        return Resource(logical_id, "AWS::KMS::Alias", ref=p["AliasName"])

    # ------------------------------------------------------------------ storage
    def _bucket_policy(self, logical_id: str, p: dict[str, Any]) -> Resource:
        # moto 5.2.5 evaluates bucket policies but ignores their Conditions, so the TLS-only Deny
        # (aws:SecureTransport = false) would deny everything. The local endpoint is loopback HTTP
        # anyway: conditional statements are left out locally, the rest is applied as written.
        document = dict(p["PolicyDocument"])
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        applied = [statement for statement in statements if "Condition" not in statement]
        if len(applied) < len(statements):
            LOG.info("%s: %d conditional statement(s) not applied locally", logical_id, len(statements) - len(applied))
        if applied:
            document["Statement"] = applied
            self._client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(document))
        return Resource(logical_id, "AWS::S3::BucketPolicy", ref=p["Bucket"])

    def _bucket(self, logical_id: str, p: dict[str, Any]) -> Resource:
        s3 = self._client("s3")
        name = p.get("BucketName") or self._name(logical_id, 63, lowercase=True)
        # Object Lock can only be turned on when a bucket is created (it also turns versioning on).
        object_lock = str(p.get("ObjectLockEnabled", "")).lower() == "true"
        s3.create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if object_lock else {}))
        if "VersioningConfiguration" in p:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
            )
        if "BucketEncryption" in p:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule.get("ServerSideEncryptionByDefault", {}),
                    **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in p:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
        if "ObjectLockConfiguration" in p:
            s3.put_object_lock_configuration(
                Bucket=name, ObjectLockConfiguration=_object_lock(p["ObjectLockConfiguration"])
            )
        notifications = p.get("NotificationConfiguration", {})
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        for unsupported in set(notifications) - {"EventBridgeConfiguration"}:
            LOG.warning("%s: NotificationConfiguration.%s is not deployed locally", logical_id, unsupported)
        if p.get("Tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": p["Tags"]})
        return Resource(
            logical_id,
            "AWS::S3::Bucket",
            ref=name,
            attributes={
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            },
        )

    def _table(self, logical_id: str, p: dict[str, Any]) -> Resource:
        dynamodb = self._client("dynamodb")
        name = p.get("TableName") or self._name(logical_id, 255)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": p["KeySchema"],
            "AttributeDefinitions": p["AttributeDefinitions"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        for key in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "Tags"):
            if key in p:
                request[key] = p[key]
        if request["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" not in request:
            raise DeployError(f"{logical_id}: PROVISIONED table without ProvisionedThroughput")
        if "StreamSpecification" in p:
            request["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
        if "SSESpecification" in p:
            sse = dict(p["SSESpecification"])
            request["SSESpecification"] = {"Enabled": sse.pop("SSEEnabled", False), **sse}
        if "DeletionProtectionEnabled" in p:
            request["DeletionProtectionEnabled"] = p["DeletionProtectionEnabled"]
        table = dynamodb.create_table(**request)["TableDescription"]
        if "TimeToLiveSpecification" in p:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=p["TimeToLiveSpecification"])
        if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        attributes = {"Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Resource(logical_id, "AWS::DynamoDB::Table", ref=name, attributes=attributes)

    # ------------------------------------------------------------------ messaging
    def _queue(self, logical_id: str, p: dict[str, Any]) -> Resource:
        sqs = self._client("sqs")
        fifo = bool(p.get("FifoQueue"))
        name = p.get("QueueName") or self._name(logical_id, 75) + (".fifo" if fifo else "")
        attributes = {key: _attribute_string(value) for key, value in p.items() if key not in ("QueueName", "Tags")}
        tags = {tag["Key"]: tag["Value"] for tag in p.get("Tags", [])}
        url = sqs.create_queue(QueueName=name, Attributes=attributes, **({"tags": tags} if tags else {}))["QueueUrl"]
        arn = self._arn("sqs", name)
        return Resource(
            logical_id, "AWS::SQS::Queue", ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url}
        )

    def _queue_policy(self, logical_id: str, p: dict[str, Any]) -> Resource:
        for url in p["Queues"]:
            self._client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
            )
        return Resource(logical_id, "AWS::SQS::QueuePolicy", ref=logical_id)

    def _topic(self, logical_id: str, p: dict[str, Any]) -> Resource:
        name = p.get("TopicName") or self._name(logical_id, 256)
        arn = self._client("sns").create_topic(Name=name)["TopicArn"]
        return Resource(logical_id, "AWS::SNS::Topic", ref=arn, attributes={"TopicArn": arn, "TopicName": name})

    def _event_bus(self, logical_id: str, p: dict[str, Any]) -> Resource:
        arn = self._client("events").create_event_bus(Name=p["Name"])["EventBusArn"]
        return Resource(logical_id, "AWS::Events::EventBus", ref=p["Name"], attributes={"Arn": arn, "Name": p["Name"]})

    def _rule(self, logical_id: str, p: dict[str, Any]) -> Resource:
        events = self._client("events")
        name = p.get("Name") or self._name(logical_id, 64)
        bus = p.get("EventBusName", "default")
        request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": p.get("State", "ENABLED")}
        if "EventPattern" in p:
            pattern = p["EventPattern"]
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        for key in ("ScheduleExpression", "Description", "RoleArn"):
            if key in p:
                request[key] = p[key]
        arn = events.put_rule(**request)["RuleArn"]
        if p.get("Targets"):
            events.put_targets(Rule=name, EventBusName=bus, Targets=p["Targets"])
        return Resource(logical_id, "AWS::Events::Rule", ref=name, attributes={"Arn": arn})

    # ------------------------------------------------------------------ compute
    def _role(self, logical_id: str, p: dict[str, Any]) -> Resource:
        iam = self._client("iam")
        name = p.get("RoleName") or self._name(logical_id, 64)
        role = iam.create_role(
            RoleName=name,
            Path=p.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]),
        )["Role"]
        for policy in p.get("Policies", []):
            # SAM's policy templates omit Version, which IAM accepts and moto rejects.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
        # ManagedPolicyArns are not attached: moto does not load AWS managed
        # policies by default, and nothing evaluates IAM locally anyway.
        return Resource(
            logical_id, "AWS::IAM::Role", ref=name, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]}
        )

    def _layer(self, logical_id: str, p: dict[str, Any]) -> Resource:
        # Layers reach workers as PYTHONPATH entries (template.LocalCode.layer_dirs).
        self._skipped[logical_id] = "layer code is put on the workers' PYTHONPATH instead"
        arn = self._arn("lambda", f"layer:{p.get('LayerName', logical_id)}:1")
        return Resource(logical_id, "AWS::Lambda::LayerVersion", ref=arn)

    def _function(self, logical_id: str, p: dict[str, Any]) -> Resource:
        name = p.get("FunctionName") or self._name(logical_id, 64)
        request: dict[str, Any] = {
            "FunctionName": name,
            "Role": p["Role"],
            "Runtime": p.get("Runtime", "python3.12"),
            "Handler": p.get("Handler", "app.handler"),
            "Code": {"ZipFile": _PLACEHOLDER_ZIP},
        }
        for key in ("Description", "Timeout", "MemorySize", "Environment", "TracingConfig", "Architectures", "Tags"):
            if key in p:
                request[key] = p[key]
        if "Environment" in request:
            request["Environment"] = {"Variables": _environment(p["Environment"].get("Variables", {}))}
        if "Tags" in request:
            request["Tags"] = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
        arn = self._client("lambda").create_function(**request)["FunctionArn"]
        self._function_properties[logical_id] = {**p, "FunctionName": name, "Arn": arn}
        return Resource(logical_id, "AWS::Lambda::Function", ref=name, attributes={"Arn": arn})

    def _permission(self, logical_id: str, p: dict[str, Any]) -> Resource:
        request = {
            "FunctionName": p["FunctionName"],
            "StatementId": logical_id,
            "Action": p["Action"],
            "Principal": p["Principal"],
        }
        for key in ("SourceArn", "SourceAccount"):
            if key in p:
                request[key] = p[key]
        self._client("lambda").add_permission(**request)
        return Resource(logical_id, "AWS::Lambda::Permission", ref=logical_id)

    def _event_invoke_config(self, logical_id: str, p: dict[str, Any]) -> Resource:
        keys = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        request: dict[str, Any] = {key: p[key] for key in keys if key in p}
        self._client("lambda").put_function_event_invoke_config(FunctionName=p["FunctionName"], **request)
        self._invoke_configs[p["FunctionName"]] = request
        return Resource(logical_id, "AWS::Lambda::EventInvokeConfig", ref=logical_id)

    def _state_machine(self, logical_id: str, p: dict[str, Any]) -> Resource:
        name = p.get("StateMachineName") or self._name(logical_id, 80)
        if logical_id in self.template.state_machine_definitions:
            definition = self.template.state_machine_definitions[logical_id].read_text()
        elif "DefinitionString" in p:
            definition = p["DefinitionString"]
        elif "Definition" in p:
            definition = json.dumps(p["Definition"])
        else:
            raise DeployError(f"{logical_id}: no definition found")
        for key, value in p.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        leftover = re.findall(r"\$\{[A-Za-z0-9_]+\}", definition)
        if leftover:
            raise DeployError(f"{logical_id}: no DefinitionSubstitutions for {sorted(set(leftover))}")
        request: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": p["RoleArn"],
            "type": p.get("StateMachineType", "STANDARD"),
        }
        if "TracingConfiguration" in p:
            request["tracingConfiguration"] = {"enabled": bool(p["TracingConfiguration"].get("Enabled"))}
        arn = self._client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
        return Resource(logical_id, "AWS::StepFunctions::StateMachine", ref=arn, attributes={"Arn": arn, "Name": name})

    # ------------------------------------------------------------------ misc
    def _log_group(self, logical_id: str, p: dict[str, Any]) -> Resource:
        logs = self._client("logs")
        name = p.get("LogGroupName") or self._name(logical_id, 512)
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        return Resource(
            logical_id, "AWS::Logs::LogGroup", ref=name, attributes={"Arn": self._arn("logs", f"log-group:{name}:*")}
        )

    def _secret(self, logical_id: str, p: dict[str, Any]) -> Resource:
        name = p.get("Name") or self._name(logical_id, 512)
        request: dict[str, Any] = {"Name": name}
        if "SecretString" in p:
            request["SecretString"] = p["SecretString"]
        else:
            generate = p.get("GenerateSecretString", {})
            password = self._client("secretsmanager").get_random_password(
                PasswordLength=int(generate.get("PasswordLength", 32)),
                ExcludePunctuation=bool(generate.get("ExcludePunctuation", False)),
            )["RandomPassword"]
            template = generate.get("SecretStringTemplate")
            key = generate.get("GenerateStringKey")
            request["SecretString"] = (
                json.dumps({**json.loads(template), key: password}) if template and key else password
            )
        arn = self._client("secretsmanager").create_secret(**request)["ARN"]
        return Resource(logical_id, "AWS::SecretsManager::Secret", ref=arn, attributes={"Id": arn})

    def _model_package_group(self, logical_id: str, p: dict[str, Any]) -> Resource:
        name = p.get("ModelPackageGroupName") or self._name(logical_id, 63)
        request = {"ModelPackageGroupName": name}
        if "ModelPackageGroupDescription" in p:
            request["ModelPackageGroupDescription"] = p["ModelPackageGroupDescription"]
        arn = self._client("sagemaker").create_model_package_group(**request)["ModelPackageGroupArn"]
        return Resource(
            logical_id, "AWS::SageMaker::ModelPackageGroup", ref=name, attributes={"ModelPackageGroupArn": arn}
        )

    def _email_identity(self, logical_id: str, p: dict[str, Any]) -> Resource:
        # In AWS the address's owner confirms it from an e-mail; moto counts an identity as
        # verified for sending once it exists, so functions can send from it right away.
        identity = p["EmailIdentity"]
        self._client("sesv2").create_email_identity(EmailIdentity=identity)
        for unsupported in sorted(set(p) - {"EmailIdentity"}):
            LOG.warning("%s: %s is not deployed locally", logical_id, unsupported)
        return Resource(logical_id, "AWS::SES::EmailIdentity", ref=identity)

    def _served_locally(self, logical_id: str, p: dict[str, Any]) -> Resource:
        self._skipped[logical_id] = "API Gateway is served by the local API server"
        return Resource(
            logical_id,
            self._resources_cfn[logical_id]["Type"],
            ref=logical_id.lower(),
            attributes={"RootResourceId": "root", **({"StageName": p["StageName"]} if "StageName" in p else {})},
        )

    # ------------------------------------------------------------------ functions
    def _function_specs(self) -> dict[str, FunctionSpec]:
        specs = {}
        for logical_id, p in self._function_properties.items():
            code = self.template.code.get(logical_id)
            if code is None:
                LOG.warning("%s has no local code; invocations get moto's echo", logical_id)
                continue
            invoke_config = self._invoke_configs.get(p["FunctionName"]) or self._invoke_configs.get(p["Arn"], {})
            destinations = invoke_config.get("DestinationConfig", {})
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=p["FunctionName"],
                arn=p["Arn"],
                code_dir=code.code_dir,
                handler=code.handler,
                runtime=code.runtime,
                memory_mb=int(p.get("MemorySize", code.memory_mb)),
                timeout_s=int(p.get("Timeout", code.timeout_s)),
                layer_dirs=code.layer_dirs,
                environment=_environment(p.get("Environment", {}).get("Variables", {})),
                max_retry_attempts=int(invoke_config.get("MaximumRetryAttempts", 2)),
                max_event_age_s=int(invoke_config.get("MaximumEventAgeInSeconds", 21600)),
                on_failure=destinations.get("OnFailure", {}).get("Destination"),
                on_success=destinations.get("OnSuccess", {}).get("Destination"),
            )
        return specs


def _attribute_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _object_lock(configuration: dict[str, Any]) -> dict[str, Any]:
    # CloudFormation passes numbers from parameters as strings; the S3 API wants integers.
    lock: dict[str, Any] = {"ObjectLockEnabled": configuration.get("ObjectLockEnabled", "Enabled")}
    retention = configuration.get("Rule", {}).get("DefaultRetention")
    if retention:
        rule = {"Mode": retention["Mode"], **{k: int(retention[k]) for k in ("Days", "Years") if k in retention}}
        lock["Rule"] = {"DefaultRetention": rule}
    return lock


def _environment(variables: dict[str, Any]) -> dict[str, str]:
    # Lambda environment values are strings; CloudFormation stringifies numbers and booleans.
    return {key: _attribute_string(value) for key, value in variables.items()}


def _parameter_values(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name in overrides:
            value: Any = overrides[name]
        elif "Default" in declaration:
            value = declaration["Default"]
        else:
            continue  # an error only if something refers to it
        if declaration.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [item.strip() for item in value.split(",")]
        values[name] = value
    return values
