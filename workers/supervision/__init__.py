"""Supervision of the delegated power: 双随机、一公开 spot checks and the 用权评估 scorecard.

- :mod:`~workers.supervision.periods`: the periods (``2026``, ``2026Q3``, ``2026-09``) both use;
- :mod:`~workers.supervision.inspectors`: the inspectors file (YAML or CSV), checked by line;
- :mod:`~workers.supervision.spotcheck`: the reproducible draw, its ledger events, verification, findings;
- :mod:`~workers.supervision.scorecard`: ``config/supervision.yaml`` and the per-town scorecard;
- :mod:`~workers.supervision.export`: the public list of a draw (CSV, HTML, JSON) and the scorecard files.

Everything reads and writes the work ledger through :class:`workers.ledger.Ledger` (``snapshot`` to read,
``record_event`` to write); no pyzeebe here, the processes are not involved.
"""
