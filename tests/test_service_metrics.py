"""The metrics AWS publishes by itself, as the local cloud publishes them (localcloud/service_metrics.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from localcloud.service_metrics import VALUES_LIMIT, FunctionTally
from localcloud.workers import Invocation

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_tally_counts_as_lambda_does_throttles_apart_from_invocations():
    tally = FunctionTally()
    tally.add(Invocation(b"{}", duration_ms=120.0))
    tally.add(Invocation(b'{"errorType": "PdfCorrupt"}', "Unhandled", duration_ms=80.0))
    tally.add(Invocation.failed("Lambda.TooManyRequestsException", "Rate Exceeded."))

    datums = {datum["MetricName"]: datum for datum in tally.datums("docflow-extract", AT)}

    assert {name: datums[name]["Value"] for name in ("Invocations", "Errors", "Throttles")} == {
        "Invocations": 2.0, "Errors": 1.0, "Throttles": 1.0,
    }  # fmt: skip
    assert datums["Duration"]["Values"] == [120.0, 80.0] and datums["Duration"]["Unit"] == "Milliseconds"
    assert all(
        datum["Dimensions"] == [{"Name": "FunctionName", "Value": "docflow-extract"}] for datum in datums.values()
    )


def test_durations_are_split_into_datums_of_at_most_the_values_cloudwatch_takes():
    tally = FunctionTally()
    for number in range(VALUES_LIMIT + 1):
        tally.add(Invocation(b"{}", duration_ms=float(number)))
    durations = [datum for datum in tally.datums("docflow-ocr", AT) if datum["MetricName"] == "Duration"]
    assert [len(datum["Values"]) for datum in durations] == [VALUES_LIMIT, 1]
