"""How AWS client errors become docflow's: one mechanism for every adapter.

An adapter names the error codes of its service that mean "try again later" and those that
mean "it is not there"; `translated` turns a botocore failure with such a code into
docflow's TransientError (retried by the state machine or the caller) or the given
permanent error. Any other failure propagates unchanged and ends as an internal error.
botocore has already retried throttling and 5xx by then (AWS_RETRY_MODE in the catalog).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from docflow.errors import DocflowError, TransientError


def error_code(error: BaseException) -> str:
    """The service's error code of a botocore ClientError; "" for anything else."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def is_connection_error(error: BaseException) -> bool:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError

    return isinstance(error, (BotoConnectionError, ReadTimeoutError))


@dataclass(frozen=True)
class ErrorMap:
    """One service's codes and the docflow errors they become."""

    service: str
    transient_codes: frozenset[str]
    transient: Callable[[str], TransientError]
    missing_codes: frozenset[str] = frozenset()
    missing: Callable[[str], DocflowError] | None = None

    @contextmanager
    def translated(self, subject: str = "") -> Iterator[None]:
        """Within it, a failure with a mapped code leaves as docflow's error; `subject`
        (a key, an ARN) names what was missing."""
        try:
            yield
        except DocflowError:
            raise
        except Exception as error:
            code = error_code(error)
            if self.missing is not None and code in self.missing_codes:
                raise self.missing(subject) from error
            if code in self.transient_codes or is_connection_error(error):
                raise self.transient(f"{self.service} did not answer ({code or type(error).__name__})") from error
            raise
