"""Mends two gaps in moto's port of the ASL interpreter, without touching any definition.

The optimised Step Functions integration (arn:aws:states:::states:startExecution.sync:2)
hands boto3 the ASL's parameter names as written, `StateMachineArn`, where boto3 wants
`stateMachineArn`, and reads boto3's answer as `ExecutionArn` where boto3 gives
`executionArn`. LocalStack, whose interpreter moto ported, converts between the two casings;
moto's port lost that step. These wrappers restore it for this one integration.
tests/test_localcloud.py::test_moto_still_needs_the_sfn_casing_shim tells when moto no
longer needs them.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sfn as sfn_service,
)

_Service = sfn_service.StateTaskServiceSfn
_original_parameters = _Service._normalise_parameters
_original_response = _Service._normalise_response


def _recase(mapping: dict, first_letter) -> None:
    for key in list(mapping):
        new_key = first_letter(key[0]) + key[1:]
        if new_key != key:
            mapping[new_key] = mapping.pop(key)


def _normalise_parameters(self, parameters: dict, boto_service_name=None, service_action_name=None) -> None:
    _original_parameters(self, parameters, boto_service_name, service_action_name)
    if service_action_name is None:  # the call to boto3, not the describe of its answer
        _recase(parameters, str.lower)


def _normalise_response(self, response: Any, boto_service_name=None, service_action_name=None) -> None:
    _original_response(self, response, boto_service_name, service_action_name)
    if isinstance(response, dict):
        _recase(response, str.upper)


def install() -> None:
    _Service._normalise_parameters = _normalise_parameters
    _Service._normalise_response = _normalise_response


def uninstall() -> None:
    _Service._normalise_parameters = _original_parameters
    _Service._normalise_response = _original_response
