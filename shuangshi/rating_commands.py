"""``shuangshi rate`` and ``shuangshi portal``: the applicant's 好差评 and the 进度查询 portal.

``rate`` checks a rating against the ledger (the case exists, is closed with a decision, has no rating yet;
the score is 1–5 and the comment at most 500 characters), starts the rating process
(``bpmn/case-rating.bpmn``) on the Zeebe gateway and waits for the ledger to record it, then says whether a
整改 follow-up was opened. The comment is masked (ID, mobile numbers, e-mail addresses) before it leaves
this command. ``portal`` serves the notification link's target (:mod:`workers.portal.app`).

Both read the ledger as ``case show`` does (``--data-dir``/``SHUANGSHI_DATA_DIR``, ``--ledger-url``/
``SHUANGSHI_LEDGER_URL``) and start processes on ``--zeebe-address``/``ZEEBE_ADDRESS``. Exit codes of
``rate``: 0 recorded (or submitted and not yet recorded, said on stderr), 1 refused (no such case, not
closed, already rated), 2 bad input or no gateway, ledger or deployed rating process.
"""

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.text import Text

from shuangshi.case_commands import (
    DataDirOption,
    JsonOption,
    LedgerUrlOption,
    _catalog,
    _open_ledger,
    _quiet_logging,
    _settings,
)
from shuangshi.output import err, fail, out, print_json

if TYPE_CHECKING:
    from workers.catalog.models import Catalog
    from workers.ledger import Ledger
    from workers.portal.access import ProgressTokens
    from workers.rating import Rating
    from workers.rating.process import RatingOutcome

__all__ = ["portal_command", "rate_command"]

DEFAULT_ZEEBE_ADDRESS: Final = "127.0.0.1:26500"
DEFAULT_PORTAL_ADDRESS: Final = "127.0.0.1:8090"

ZeebeAddressOption = Annotated[
    str, typer.Option("--zeebe-address", envvar="ZEEBE_ADDRESS", help="The Zeebe gateway (HOST:PORT).")
]


def _outcome_text(outcome: "RatingOutcome") -> Text:
    text = Text.assemble(("rating recorded", "bold green"), f": {outcome.case_number} {outcome.score}/5; ")
    if not outcome.follow_up:
        text.append("no follow-up (无需整改)")
        return text
    text.append(f"整改 opened for {outcome.town_name} (town:{outcome.town_code})")
    if outcome.due_at is not None:
        text.append(f", due {outcome.due_at.strftime('%Y-%m-%d %H:%M')}")
    return text


async def _submit(
    zeebe_address: str, ledger: "Ledger", catalog: "Catalog", case_number: str, rating: "Rating", wait: float
) -> "RatingOutcome":
    from pyzeebe import ZeebeClient, create_insecure_channel  # noqa: PLC0415 - gRPC loads only to submit

    from workers.rating.process import submit_rating  # noqa: PLC0415

    channel = create_insecure_channel(grpc_address=zeebe_address)
    try:
        return await submit_rating(
            ZeebeClient(channel), ledger, catalog, case_number, rating, wait_seconds=wait
        )
    finally:
        await channel.close()


def rate_command(
    case_number: Annotated[str, typer.Argument(help="办件编号 of a closed case, e.g. XJ-20210705-0001.")],
    score: Annotated[int, typer.Option("--score", help="1 (非常不满意) to 5 (非常满意); 1–2 open a 整改.")],
    comment: Annotated[
        str | None,
        typer.Option(
            "--comment", help="The applicant's words, at most 500 characters (ID/phone numbers masked)."
        ),
    ] = None,
    as_json: JsonOption = False,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for the ledger to record the rating.")
    ] = 30.0,
    zeebe_address: ZeebeAddressOption = DEFAULT_ZEEBE_ADDRESS,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """好差评: rate a closed case 1–5 (once); a score of 1 or 2 opens a 整改 task for the town."""
    from pyzeebe.errors import ProcessDefinitionNotFoundError, ZeebeError  # noqa: PLC0415

    from workers.rating import RatingError, check_ratable, parse_rating  # noqa: PLC0415

    _quiet_logging()
    try:
        rating = parse_rating(score, comment)
    except RatingError as exc:
        fail(f"--{exc.message}", 2)
    catalog = _catalog()
    with _open_ledger(_settings(data_dir, ledger_url)) as ledger:
        try:
            check_ratable(ledger.case(case_number), case_number)  # refuse before touching the gateway
            outcome = asyncio.run(_submit(zeebe_address, ledger, catalog, case_number, rating, wait))
        except RatingError as exc:
            fail(exc.message, 1)
        except ProcessDefinitionNotFoundError:
            fail(f"the rating process is not deployed at {zeebe_address} (run 'shuangshi deploy')", 2)
        except ZeebeError as exc:
            fail(
                f"cannot rate: the Zeebe gateway at {zeebe_address} did not take it ({type(exc).__name__})", 2
            )
    if outcome.state == "duplicate":
        fail(
            f"case {case_number} was rated by another submission at the same time; this rating was not "
            "recorded (one rating per case)",
            1,
        )
    if as_json:
        print_json(outcome.to_json())
    elif outcome.state == "pending":
        out.print(f"rating of {case_number} submitted (process instance {outcome.process_instance_key})")
    else:
        out.print(_outcome_text(outcome))
    if outcome.state == "pending":
        err.print(
            f"the ledger has not recorded it within {wait:g} s; it will be once the workers run",
            highlight=False,
        )


def portal_command(
    address: Annotated[
        str, typer.Option("--address", help="Where the portal listens (HOST:PORT; port 0 picks a free one).")
    ] = DEFAULT_PORTAL_ADDRESS,
    zeebe_address: ZeebeAddressOption = DEFAULT_ZEEBE_ADDRESS,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
    rating_wait: Annotated[
        float,
        typer.Option(
            "--rating-wait", min=0, help="Seconds a rating waits for the ledger before answering 202."
        ),
    ] = 10.0,
    log_level: Annotated[str, typer.Option("--log-level", envvar="SHUANGSHI_LOG_LEVEL")] = "INFO",
) -> None:
    """进度查询 portal for applicants: GET /progress/CASE?t=TOKEN (JSON or HTML), POST …/rating (好差评).

    The token is in every notification's progress link (HMAC-SHA256 of the case number under
    SHUANGSHI_PORTAL_SECRET); without the right token every answer is 404. Runs until SIGTERM or Ctrl-C.
    """
    from pydantic import ValidationError  # noqa: PLC0415

    from engine.server import split_address  # noqa: PLC0415
    from workers.logging import configure_logging, get_logger  # noqa: PLC0415
    from workers.portal.access import PortalSettings, ProgressTokens, load_secret  # noqa: PLC0415

    try:
        host, port = split_address(address)
        configure_logging(log_level)
    except ValueError as exc:
        fail(f"--address/--log-level: {exc}", 2)
    for noisy in ("uvicorn.error", "alembic"):  # start-up chatter; portal.ready says what matters
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = _settings(data_dir, ledger_url)
    try:
        secret = load_secret(settings.data_dir, PortalSettings())
    except ValidationError as exc:
        problems = "; ".join(error["msg"] for error in exc.errors(include_input=False, include_url=False))
        fail(f"SHUANGSHI_PORTAL_SECRET: {problems}", 2)
    except OSError as exc:
        fail(f"cannot read or create the development portal secret in {settings.data_dir}: {exc}", 2)
    catalog = _catalog()
    listener = _listen(address, host, port)
    with listener, _open_ledger(settings) as ledger:
        tokens = ProgressTokens(secret)
        asyncio.run(_serve_portal(listener, zeebe_address, ledger, catalog, tokens, rating_wait))
    get_logger("shuangshi.portal").info("portal.stopped")


def _listen(address: str, host: str, port: int) -> socket.socket:
    """The portal's listening socket (port 0: a free one); exit 2 when the address cannot be used."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        fail(f"--address {address}: cannot listen there: {exc.strerror or exc}", 2)


async def _serve_portal(
    listener: socket.socket,
    zeebe_address: str,
    ledger: "Ledger",
    catalog: "Catalog",
    tokens: "ProgressTokens",
    rating_wait: float,
) -> None:
    import uvicorn  # noqa: PLC0415 - the HTTP server loads only to serve
    from pyzeebe import ZeebeClient, create_insecure_channel  # noqa: PLC0415

    from workers.logging import get_logger  # noqa: PLC0415
    from workers.portal.app import Portal, create_app  # noqa: PLC0415

    channel = create_insecure_channel(grpc_address=zeebe_address)
    portal = Portal(
        ledger=ledger,
        catalog=catalog,
        tokens=tokens,
        zeebe=ZeebeClient(channel, max_connection_retries=-1),
        rating_wait_seconds=rating_wait,
    )

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM/SIGINT after its shutdown, which would skip our clean-up; the command
        handles the signals itself and asks the server to exit."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    # No access log: request URLs carry the case's token. uvicorn's own logs go through our logging.
    config = uvicorn.Config(create_app(portal), access_log=False, log_config=None, server_header=False)
    server = Server(config)

    def stop() -> None:
        server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    host, port = listener.getsockname()[:2]
    get_logger("shuangshi.portal").info("portal.ready", address=f"{host}:{port}", zeebe_address=zeebe_address)
    err.print(f"[green]portal[/] http://{host}:{port}/progress/<办件编号>?t=<token>", highlight=False)
    try:
        await server.serve(sockets=[listener])
    finally:
        await channel.close()
