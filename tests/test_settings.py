"""docflow/settings.py: every DOCFLOW_* setting once, read from the environment, and agreeing
with the catalog that sets it and the README that documents it."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from docflow.settings import DEFAULTS, MAX_PRESIGN_SECONDS, Settings
from infra.catalog import load_catalog

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_environment_sets_each_setting_and_leaves_the_rest_at_their_defaults():
    settings = Settings.from_environment({"DOCFLOW_MAX_PAGES": "3", "DOCFLOW_TIME_MARGIN_SECONDS": "2.5", "OTHER": "x"})
    assert (settings.max_pages, settings.time_margin_seconds) == (3, 2.5)
    assert settings.max_file_bytes == DEFAULTS.max_file_bytes == 200 * 1024 * 1024
    assert Settings.from_environment({}) == DEFAULTS


def test_presigned_urls_last_fifteen_minutes_at_most_whatever_the_environment_asks():
    settings = Settings.from_environment({"DOCFLOW_UPLOAD_EXPIRY_SECONDS": "3600", "DOCFLOW_DOWNLOAD_EXPIRY_SECONDS": "60"})
    assert (settings.upload_expiry_seconds, settings.download_expiry_seconds) == (MAX_PRESIGN_SECONDS, 60)


def test_a_value_that_is_not_a_number_names_its_variable():
    with pytest.raises(ValueError, match="DOCFLOW_MAX_PAGES='many' is not an integer"):
        Settings.from_environment({"DOCFLOW_MAX_PAGES": "many"})


def test_the_catalog_sets_every_setting_at_its_default_and_nothing_that_is_not_one():
    variables = {Settings.variable(setting.name): setting.default for setting in fields(Settings)}
    set_in_catalog: dict[str, set[str]] = {}
    for spec in load_catalog():
        for variable, value in spec.environment.items():
            set_in_catalog.setdefault(variable, set()).add(value)
    # Names of deployed resources (${DocumentsBucket}...), filled in by each runtime: not settings.
    resources = {variable for variable, values in set_in_catalog.items() if any("${" in value for value in values)}
    assert {v for v in set_in_catalog if v.startswith("DOCFLOW_")} - resources == set(variables)
    for variable, default in variables.items():
        (value,) = set_in_catalog[variable]
        assert type(default)(value) == default, variable


def test_the_readme_table_lists_every_setting_with_its_default_and_meaning():
    rows = re.findall(r"^\| `(DOCFLOW_[A-Z_]+)` \| (`[^`]*`|[\d,.]+) \| (.+) \|$", README.read_text(), re.MULTILINE)

    def value(default: str) -> object:
        return default.strip("`") if default.startswith("`") else float(default.replace(",", ""))

    assert [(variable, value(default), meaning) for variable, default, meaning in rows] == [
        (variable, default if isinstance(default, str) else float(default), meaning)
        for variable, default, meaning in Settings.described()
    ]


def test_a_setting_with_choices_takes_only_those():
    assert Settings.from_environment({"DOCFLOW_OCR": "force"}).ocr == "force"
    with pytest.raises(ValueError, match="DOCFLOW_OCR='sometimes' is not one of auto, off, force"):
        Settings.from_environment({"DOCFLOW_OCR": "sometimes"})
