"""Every setting a deployment may change: its default and its meaning, in one frozen object.

Each is the environment variable DOCFLOW_<NAME>. A handler reads them once, when it is
loaded (`Settings.from_environment()`), and passes them to the code that needs them; the
domain functions take a `Settings` and default to `DEFAULTS`. functions/catalog.toml sets
each one for the functions that read it, and the README's table of settings is checked
against this file (tests/test_settings.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

PREFIX = "DOCFLOW_"
# S3 would honour a longer presigned URL; docflow promises 15 minutes at most.
MAX_PRESIGN_SECONDS = 15 * 60


Value = int | float | str
OCR_MODES = ("auto", "off", "force")


def _setting(default: Value, meaning: str, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"meaning": meaning, "choices": choices})


@dataclass(frozen=True)
class Settings:
    # Extract and thumbnail copy the whole file to Lambda's /tmp (512 MB by default).
    max_file_bytes: int = _setting(200 * 1024 * 1024, "the largest file processed; a larger one ends `file_too_large`")
    max_pages: int = _setting(20_000, "the most pages a PDF may have; more ends `pdf_too_many_pages`")
    max_image_pixels: int = _setting(
        100_000_000, "the most pixels an image may have, checked from its header; more ends `image_too_large`"
    )
    time_margin_seconds: float = _setting(
        15.0, "extract and ocr stop reading this long before their timeout; the pages left unread make it `partial`"
    )
    max_upload_bytes: int = _setting(50 * 1024 * 1024, "the largest upload the API presigns; a larger one is a 413")
    upload_expiry_seconds: int = _setting(MAX_PRESIGN_SECONDS, "how long a presigned upload is valid (at most 900)")
    download_expiry_seconds: int = _setting(
        MAX_PRESIGN_SECONDS, "how long a presigned download of a text or thumbnail is valid (at most 900)"
    )
    retention_days: int = _setting(30, "how many days documents, their files and their records are kept")
    ocr: str = _setting(
        "auto",
        "`auto` reads a PDF page by OCR when it has no text layer; `off` never; `force` reads every page by OCR",
        choices=OCR_MODES,
    )
    ocr_deadline_seconds: int = _setting(
        180,
        "the ocr step stops reading this long after the document's workflow started, leaving join, analyze and "
        "record their time; the pages left unread make it `partial`",
    )
    max_ocr_pages: int = _setting(
        300, "the most pages of a PDF read by OCR; past it, pages without a text layer stay empty and it is `partial`"
    )
    webhook_loopback: int = _setting(
        0, "1 lets webhooks target http://127.0.0.1 and localhost: `docflow serve` sets it, a deployment never does"
    )
    ocr_languages: str = _setting(
        "deu+fra+spa+ita+por+nld+eng",
        "Tesseract's languages for OCR, `+`-separated; languages with accents first, so they keep them",
    )

    @staticmethod
    def variable(name: str) -> str:
        """The environment variable of the setting `name`: max_pages -> DOCFLOW_MAX_PAGES."""
        return PREFIX + name.upper()

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Settings:
        environment = os.environ if environment is None else environment
        defaults = cls()
        values: dict[str, Any] = {}
        for setting in fields(cls):
            variable = cls.variable(setting.name)
            if (raw := environment.get(variable)) is not None:
                values[setting.name] = _parsed(
                    variable, raw, getattr(defaults, setting.name), setting.metadata["choices"]
                )
        settings = cls(**values)
        return replace(
            settings,
            upload_expiry_seconds=min(MAX_PRESIGN_SECONDS, settings.upload_expiry_seconds),
            download_expiry_seconds=min(MAX_PRESIGN_SECONDS, settings.download_expiry_seconds),
        )

    @classmethod
    def described(cls) -> list[tuple[str, Value, str]]:
        """(environment variable, default, meaning) of every setting, in order."""
        defaults = cls()
        return [(cls.variable(s.name), getattr(defaults, s.name), s.metadata["meaning"]) for s in fields(cls)]


def _parsed(variable: str, raw: str, default: Value, choices: tuple[str, ...]) -> Value:
    if isinstance(default, str):
        if choices and raw not in choices:
            raise ValueError(f"{variable}={raw!r} is not one of {', '.join(choices)}")
        return raw
    kind = int if isinstance(default, int) else float
    try:
        return kind(raw)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise ValueError(f"{variable}={raw!r} is not {expected}") from None


DEFAULTS = Settings()
