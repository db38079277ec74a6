"""Deploying the shop somewhere other than this machine.

`deploy/aws/` is the aws target: the CloudFormation template (generated), its builder, the
endpoints catalog read from a stack's outputs and what `gameday aws deploy|status|destroy`
runs. The other folders here (haproxy/, prometheus/, alertmanager/) are configuration files
that docker-compose.yml mounts.
"""
