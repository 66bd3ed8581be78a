#!/usr/bin/env python3
"""The CDK app: `make synth`, `make deploy` (see infra/stack.py)."""

from infra.stack import build_app

app, _ = build_app()
app.synth()
