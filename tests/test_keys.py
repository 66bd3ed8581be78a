"""The bucket's key layout, and file names made safe to be part of a key."""

from __future__ import annotations

import pytest

from docflow import keys


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\scan.png", "scan.png"),
        ("my report (final) v2.pdf", "my_report_final_v2.pdf"),
        ("résumé-日本語.pdf", "résumé-日本語.pdf"),
        ('quote"d\'name\n.jpg', "quote_d_name_.jpg"),
        ("..", "document"),
        ("", "document"),
    ],
)
def test_safe_filename(given, safe):
    assert keys.safe_filename(given) == safe


def test_a_long_name_is_cut_but_keeps_its_extension():
    name = keys.safe_filename("a" * 500 + ".pdf")
    assert len(name) <= keys.MAX_NAME_LENGTH and name.endswith(".pdf")


def test_an_upload_stays_under_its_document():
    assert keys.upload_key("abc", "../../etc/passwd.pdf") == "uploads/abc/passwd.pdf"


def test_a_file_of_a_batch_sent_straight_in_is_no_upload():
    """docflow run's files start their own processing: the upload rule must not see them."""
    from docflow.ingestion import upload_event_pattern

    key = keys.input_key("abc", "../../etc/passwd.pdf")
    assert key == "inputs/abc/passwd.pdf"
    (rule,) = upload_event_pattern("bucket")["detail"]["object"]["key"]
    assert keys.upload_key("abc", "x.pdf").startswith(rule["prefix"]) and not key.startswith(rule["prefix"])
