"""``shuangshi seal keygen``: the production seal keys, one Ed25519 key pair per seal owner.

The owners are the towns and district departments of the catalog (9 + 6); ``--owner`` limits the run to
some of them. The keys are written with :func:`workers.seal.keygen.generate_keys`: ``<owner>.key`` mode
0400 and ``<owner>.pub`` mode 0444 in ``KEY_DIR`` (created 0700 when missing), never overwriting a file.
``scripts/make-secrets.sh`` runs this command for the compose stack's ``secrets/seals``.

Exit codes: 0 written (or, with ``--only-missing``, nothing was missing); 1 refused because key files
exist; 2 the command could not do its work (unknown owner, unreadable catalog, unwritable folder).
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from shuangshi.output import err, fail, out, print_json

__all__ = ["seal_keygen_command"]


def seal_keygen_command(
    key_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder for <owner>.key and <owner>.pub (created with mode 0700 when missing).",
            file_okay=False,
        ),
    ],
    owners: Annotated[
        list[str] | None,
        typer.Option(
            "--owner",
            help="Only this town or department code (repeatable); default: every owner in the catalog.",
            show_default=False,
        ),
    ] = None,
    only_missing: Annotated[
        bool,
        typer.Option(
            "--only-missing",
            help="Skip owners whose key pair exists instead of refusing (a new town or department).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Write one Ed25519 seal key pair per town and district department; never overwrites a key file."""
    from workers.catalog.loader import CatalogError, load_catalog  # noqa: PLC0415 - YAML loads only here
    from workers.logging import configure_logging  # noqa: PLC0415
    from workers.seal.keygen import KeyFilesExistError, generate_keys  # noqa: PLC0415 - cryptography

    configure_logging("ERROR")
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        fail(f"catalog error\n{exc}", 2)
    known = {town.code: ("town", town.name) for town in catalog.towns}
    known |= {department.code: ("district", department.name) for department in catalog.departments}
    chosen = owners if owners else list(known)
    unknown = [code for code in chosen if code not in known]
    if unknown:
        fail(
            f"--owner: not a town or department of the catalog: {', '.join(unknown)} "
            f"(known: {', '.join(known)})",
            2,
        )
    try:
        written = generate_keys(key_dir, chosen, only_missing=only_missing)
    except KeyFilesExistError as exc:
        fail(f"{exc}\nNothing was written. Use --only-missing to add keys for owners without any.", 1)
    except ValueError as exc:
        fail(f"--owner: {exc}", 2)
    except OSError as exc:
        fail(f"cannot write seal keys to {key_dir}: {exc.strerror or exc}", 2)
    rows = [
        {
            "owner": entry.owner,
            "kind": known[entry.owner][0],
            "name": known[entry.owner][1],
            "fingerprint": entry.fingerprint,
            "privateKey": str(entry.private_path),
            "publicKey": str(entry.public_path),
        }
        for entry in written
    ]
    if as_json:
        print_json({"keyDir": str(key_dir), "written": rows})
        return
    if not rows:
        err.print(f"every owner already has a key pair in {key_dir}; nothing written", highlight=False)
        return
    table = Table("owner", "kind", "name", "fingerprint (SHA-256)", title=f"seal keys written to {key_dir}")
    for row in rows:
        table.add_row(*(Text(row[column]) for column in ("owner", "kind", "name", "fingerprint")))
    out.print(table)
    err.print(
        f"{len(rows)} key pair(s): <owner>.key mode 0400, <owner>.pub mode 0444. Give the container user "
        "ownership of the folder and its files before mounting it (see scripts/make-secrets.sh).",
        highlight=False,
    )
