"""Job workers for the 双十镇 delegated-approval processes and the domain logic they call.

Each domain lives in ``workers/<domain>/``: ``tasks.py`` (thin pyzeebe handlers), ``service.py``
(the logic, never imports pyzeebe) and ``models.py`` (pydantic models of that domain's variables).
This package imports nothing of ``engine``; only the CLI (``shuangshi.cli``) composes both.
"""
