"""Embedded, Zeebe-compatible process engine.

A single-process reimplementation of a documented subset of Zeebe: it speaks the gateway gRPC
protocol (so pyzeebe clients and workers connect unchanged) and a subset of Camunda's REST v2 API.
It knows nothing of ``workers``; only the CLI (``shuangshi.cli``) composes both.
"""

__version__ = "8.8.0-embedded"
