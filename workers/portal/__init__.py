"""The applicants' portal: 进度查询 of one case and its 好差评 rating, behind the notification link's token.

:mod:`workers.portal.access` (the token and its secret, also used by the notifier to build the link) loads
without FastAPI; :mod:`workers.portal.app` is the HTTP application ``shuangshi portal`` serves.
"""
