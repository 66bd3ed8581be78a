"""What every docflow Lambda handler shares: Powertools' logger, tracer and metrics, and
one decorator that wires them, with input validation, around a handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

# One function runs per Lambda process; the service name comes from its environment.
logger = Logger()
tracer = Tracer()
metrics = Metrics()

Model = TypeVar("Model", bound=BaseModel)


Handler = Callable[[Model, LambdaContext], dict]


def step(model: type[Model]) -> Callable[[Handler[Model]], Callable[[dict, LambdaContext], dict]]:
    """Makes `handler(parsed: model, context) -> dict` a Lambda handler: the event is
    validated into `model`, the context goes into every log line, the invocation is traced,
    and the metrics it adds are flushed when it returns."""

    def wrap(handler: Handler[Model]) -> Callable[[dict, LambdaContext], dict]:
        parsed = event_parser(model=model)(handler)
        return logger.inject_lambda_context(tracer.capture_lambda_handler(metrics.log_metrics(parsed)))

    return wrap
