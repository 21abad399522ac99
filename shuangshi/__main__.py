"""``python -m shuangshi`` is the same as the ``shuangshi`` console script."""

from shuangshi.cli import app

app()
