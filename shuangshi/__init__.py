"""Composition root: the ``shuangshi`` command line wires the engine and the workers together."""
