"""The optional nested load stack (deploy/aws/locust.yaml): Locust distributed on Fargate.

A master (web UI on the shop's public ALB, port 8089, from AllowedCidr only) and N workers, all
from the Dockerfile's image running the same journeys as everywhere else
(/app/loadtests/locustfile.py, the path the image copies them to, as docker-compose.yml runs
them). Workers find the master through an internal Network Load Balancer on Locust's port 5557
(moto's CloudFormation has no Cloud Map). Built by ``python -m deploy.aws.template``; the shop
template includes it when ``LocustWorkers`` > 0 and ``gameday aws deploy --locust-workers N``
uploads it.
"""

from __future__ import annotations

from typing import Any

from deploy.aws import tags
from deploy.aws.cfn import Builder, att, ref, sub

LOCUSTFILE = "/app/loadtests/locustfile.py"  # where the Dockerfile copies the journeys
WEB_PORT = 8089
MASTER_PORT = 5557  # Locust's master bind port (workers connect to it)


def build_locust_template() -> dict[str, Any]:
    b = Builder("Locust master + workers for the shop (nested in deploy/aws/shop.yaml)",
                stack_name=ref("ShopStack"))
    string = {"Type": "String"}
    for name in ("ImageUri", "Cluster", "VpcId", "AlbArn", "AlbDnsName", "AlbSecurityGroup",
                 "AllowedCidr", "StorefrontUrl", "ExecutionRoleArn", "ShopStack"):
        b.parameter(name, **string)
    b.parameter("PrivateSubnets", Type="List<AWS::EC2::Subnet::Id>")
    b.parameter("Workers", Type="Number", MinValue=1, MaxValue=50)

    b.add("LocustSecurityGroup", "AWS::EC2::SecurityGroup", {
        "GroupDescription": "Locust master and workers", "VpcId": ref("VpcId")}, tags.LOCUST)
    b.add("LocustWebFromAlb", "AWS::EC2::SecurityGroupIngress", {
        "GroupId": ref("LocustSecurityGroup"), "IpProtocol": "tcp", "FromPort": WEB_PORT,
        "ToPort": WEB_PORT, "SourceSecurityGroupId": ref("AlbSecurityGroup")}, tags.LOCUST)
    b.add("LocustMasterFromVpc", "AWS::EC2::SecurityGroupIngress", {
        "GroupId": ref("LocustSecurityGroup"), "IpProtocol": "tcp", "FromPort": MASTER_PORT,
        "ToPort": MASTER_PORT + 1, "CidrIp": "10.42.0.0/16"}, tags.LOCUST)
    b.add("AlbLocustFromAllowedCidr", "AWS::EC2::SecurityGroupIngress", {
        "GroupId": ref("AlbSecurityGroup"), "IpProtocol": "tcp", "FromPort": WEB_PORT,
        "ToPort": WEB_PORT, "CidrIp": ref("AllowedCidr")}, tags.LOCUST)

    b.add("WebTargets", "AWS::ElasticLoadBalancingV2::TargetGroup", {
        "VpcId": ref("VpcId"), "TargetType": "ip", "Protocol": "HTTP", "Port": WEB_PORT,
        "HealthCheckPath": "/", "Matcher": {"HttpCode": "200"}}, tags.LOCUST_MASTER)
    b.add("WebListener", "AWS::ElasticLoadBalancingV2::Listener", {
        "LoadBalancerArn": ref("AlbArn"), "Port": WEB_PORT, "Protocol": "HTTP",
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": ref("WebTargets")}]},
        tags.LOCUST_MASTER)
    b.add("MasterNlb", "AWS::ElasticLoadBalancingV2::LoadBalancer", {
        "Type": "network", "Scheme": "internal", "Subnets": ref("PrivateSubnets")},
        tags.LOCUST_MASTER)
    b.add("MasterTargets", "AWS::ElasticLoadBalancingV2::TargetGroup", {
        "VpcId": ref("VpcId"), "TargetType": "ip", "Protocol": "TCP", "Port": MASTER_PORT},
        tags.LOCUST_MASTER)
    b.add("MasterListener", "AWS::ElasticLoadBalancingV2::Listener", {
        "LoadBalancerArn": ref("MasterNlb"), "Port": MASTER_PORT, "Protocol": "TCP",
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": ref("MasterTargets")}]},
        tags.LOCUST_MASTER)
    b.add("LocustLogs", "AWS::Logs::LogGroup", {
        "LogGroupName": sub("/gameday/${ShopStack}/locust"), "RetentionInDays": 14}, tags.LOGS)

    roles = {
        "master": (["--master", "--web-host", "0.0.0.0", "--web-port", str(WEB_PORT)],
                   tags.LOCUST_MASTER, 1, 1024, 2048),
        "worker": (["--worker", "--master-host", att("MasterNlb", "DNSName")],
                   tags.LOCUST_WORKER, ref("Workers"), 1024, 2048),
    }
    for role, (args, component, count, cpu, memory) in roles.items():
        task = f"{role.capitalize()}Task"
        b.add(task, "AWS::ECS::TaskDefinition", {
            "Family": sub(f"${{ShopStack}}-locust-{role}"),
            "Cpu": str(cpu), "Memory": str(memory), "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"], "ExecutionRoleArn": ref("ExecutionRoleArn"),
            "ContainerDefinitions": [{
                "Name": f"locust-{role}", "Image": ref("ImageUri"), "Essential": True,
                "Command": ["python", "-m", "locust", "-f", LOCUSTFILE, *args,
                            "--host", ref("StorefrontUrl"), "--allow-remote"],
                "PortMappings": ([{"ContainerPort": WEB_PORT, "Protocol": "tcp"},
                                  {"ContainerPort": MASTER_PORT, "Protocol": "tcp"}]
                                 if role == "master" else []),
                "LogConfiguration": {"LogDriver": "awslogs", "Options": {
                    "awslogs-group": ref("LocustLogs"), "awslogs-region": ref("AWS::Region"),
                    "awslogs-stream-prefix": role}},
            }],
        }, component)
        service: dict[str, Any] = {
            "ServiceName": sub(f"${{ShopStack}}-locust-{role}"),
            "Cluster": ref("Cluster"), "TaskDefinition": ref(task), "LaunchType": "FARGATE",
            "DesiredCount": count,
            "NetworkConfiguration": {"AwsvpcConfiguration": {
                "AssignPublicIp": "DISABLED", "Subnets": ref("PrivateSubnets"),
                "SecurityGroups": [ref("LocustSecurityGroup")]}},
            "PropagateTags": "SERVICE", "EnableECSManagedTags": True,
        }
        extra: dict[str, Any] = {}
        if role == "master":
            service["LoadBalancers"] = [
                {"ContainerName": "locust-master", "ContainerPort": WEB_PORT,
                 "TargetGroupArn": ref("WebTargets")},
                {"ContainerName": "locust-master", "ContainerPort": MASTER_PORT,
                 "TargetGroupArn": ref("MasterTargets")}]
            extra["DependsOn"] = ["WebListener", "MasterListener"]
        b.add(f"{role.capitalize()}Service", "AWS::ECS::Service", service, component, **extra)
    b.output("LocustUrl", sub(f"http://${{AlbDnsName}}:{WEB_PORT}"), "Locust web UI")
    b.output("MasterService", att("MasterService", "Name"), "ECS service of the master")
    b.output("WorkerService", att("WorkerService", "Name"), "ECS service of the workers")
    del b.template["Conditions"]
    return b.template
