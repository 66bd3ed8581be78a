"""The console of `docflow serve`: served by its API gateway, reading its local cloud."""

from __future__ import annotations

from docflow_console.operations import Operations, Resources
from docflow_console.sessions import Sessions
from docflow_console.timeline import WorkflowHistory
from docflow_console.web import Console
from infra.catalog import deployed_name
from localcloud import LocalCloud
from localcloud.api_gateway import LocalApiGateway


def attach_console(cloud: LocalCloud, gateway: LocalApiGateway) -> Console:
    """Serves the console at the gateway's /console; a token of the API signs a browser in."""
    resources = Resources(
        functions={name: deployed_name(name) for name in cloud.functions},
        queue_urls=[*cloud.queues.values(), *cloud.dead_letter_queues.values()],
        document_workflow_arn=cloud.state_machines["document"],
    )
    console = Console(
        Sessions(gateway.port, gateway.callers),
        Operations(cloud.client("cloudwatch"), cloud.client("sqs"), resources),
        WorkflowHistory(cloud.client("stepfunctions"), resources.document_workflow_arn),
        gateway.call_as,
    )
    gateway.console = console
    return console
