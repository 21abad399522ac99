"""The REST side of the command line without an engine: inputs, addresses, errors, hash-password, engine options.

Most runs go through typer's runner in this process (every case here stops before serving or after a
refused connection); one runs ``python -m shuangshi`` as a child process, as a user would.
"""

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk.errors import ConflictError, UnauthorizedError
from camunda_orchestration_sdk.models.problem_detail import ProblemDetail
from typer.testing import CliRunner, Result

from engine.rest.auth import BasicAuthenticator, hash_password
from shuangshi.cli import app
from shuangshi.rest_client import describe_api_error
from shuangshi.rest_commands import (
    DEFAULT_REST_ADDRESS,
    VariablesError,
    completion_variables,
    load_json_vars,
    parse_var,
    resolve_rest_url,
)

# Variables a caller may have set for a real cluster must not leak into these runs.
_SDK_VARIABLES = ("CAMUNDA_", "ZEEBE_")


def run(*args: str, stdin: str | None = None, **env: str) -> Result:
    """Invoke the command line in-process with the SDK's variables cleared, then ``env`` set."""
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith(_SDK_VARIABLES)}
    environment.update(env)
    return CliRunner().invoke(app, list(args), input=stdin, env=environment)


def closed_port() -> int:
    """A local port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("approved=true", ("approved", True)),
        ("approved=false", ("approved", False)),
        ("count=3", ("count", 3)),
        ("ratio=0.5", ("ratio", 0.5)),
        ('note="x"', ("note", "x")),
        ("note=x", ("note", "x")),
        ("note=hello world", ("note", "hello world")),
        ("empty=", ("empty", "")),
        ("nothing=null", ("nothing", None)),
        ("items=[1, 2]", ("items", [1, 2])),
        ('doc={"a": {"b": 1}}', ("doc", {"a": {"b": 1}})),
        ("expr=a=b", ("expr", "a=b")),
        ("idNumber=370406199001011234", ("idNumber", 370406199001011234)),
        ('idNumber="370406199001011234"', ("idNumber", "370406199001011234")),
        ("x=NaN", ("x", "NaN")),
        ("x=Infinity", ("x", "Infinity")),
        ("意见=同意", ("意见", "同意")),
        (" spaced =1", ("spaced", 1)),
    ],
)
def test_var_values_are_json_when_they_parse_else_text(text: str, expected: tuple[str, Any]) -> None:
    """`--var NAME=VALUE` reads VALUE as JSON when it is JSON (not NaN/Infinity), else keeps the text."""
    assert parse_var(text) == expected


@pytest.mark.parametrize("text", ["approved", "=true", " =1", ""])
def test_var_without_a_name_or_equals_sign_is_refused(text: str) -> None:
    """A `--var` needs NAME=VALUE; the message shows the expected form."""
    with pytest.raises(VariablesError, match="NAME=VALUE"):
        parse_var(text)


def test_var_wins_over_the_json_vars_file(tmp_path: Path) -> None:
    """File variables come first; each `--var` overrides or adds one."""
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({"approved": False, "note": "从文件"}, ensure_ascii=False), encoding="utf-8")
    assert completion_variables(["approved=true", "count=2"], path) == {
        "approved": True,
        "note": "从文件",
        "count": 2,
    }
    assert completion_variables([], None) == {}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2]", "expected a JSON object of variables, got a JSON array"),
        ('"text"', "got a JSON string"),
        ("{not json", "not valid JSON"),
        ('{"x": NaN}', "not valid JSON"),
    ],
)
def test_json_vars_must_hold_a_json_object(tmp_path: Path, content: str, reason: str) -> None:
    """The error names the file and says what is wrong with it."""
    path = tmp_path / "vars.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VariablesError) as info:
        load_json_vars(path)
    assert str(path) in str(info.value)
    assert reason in str(info.value)


def test_bad_json_vars_file_exits_2_naming_the_file(tmp_path: Path) -> None:
    """`tasks complete --json-vars` with an array or a missing file stops before any request, exit code 2."""
    path = tmp_path / "decision.json"
    path.write_text("[true]", encoding="utf-8")
    address = f"127.0.0.1:{closed_port()}"  # would be exit 2 as well, but with another message
    result = run("tasks", "complete", "2251799813685249", "--json-vars", str(path), "--rest-address", address)
    assert result.exit_code == 2
    assert "decision.json" in result.stderr
    assert "JSON object" in result.stderr
    assert "cannot connect" not in result.stderr

    missing = tmp_path / "missing.json"
    result = run(
        "tasks", "complete", "2251799813685249", "--json-vars", str(missing), "--rest-address", address
    )
    assert result.exit_code == 2
    assert "missing.json" in result.stderr


def test_bad_var_exits_2() -> None:
    """A `--var` without '=' is refused with exit code 2 before connecting."""
    result = run(
        "tasks", "complete", "2251799813685249", "--var", "approved", "--rest-address", "127.0.0.1:1"
    )
    assert result.exit_code == 2
    assert "NAME=VALUE" in result.stderr


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("tasks", "complete"), "task-1"),
        (("incidents", "resolve"), "12ab"),
        (("tasks", "list", "--process-instance"), "x"),
    ],
)
def test_keys_must_be_numbers(args: tuple[str, ...], key: str) -> None:
    """Keys are checked before any request: exit code 2 and the offending value."""
    result = run(*args, key, "--rest-address", "127.0.0.1:1")
    assert result.exit_code == 2
    assert "is not a key" in result.stderr


def test_rest_address_comes_from_option_then_environment_then_default() -> None:
    """`--rest-address` wins, then CAMUNDA_REST_ADDRESS (or ZEEBE_REST_ADDRESS); HOST:PORT means http."""
    assert resolve_rest_url(None, {}) == DEFAULT_REST_ADDRESS == "http://127.0.0.1:8080"
    assert resolve_rest_url(None, {"ZEEBE_REST_ADDRESS": "http://z:8080"}) == "http://z:8080"
    environ = {"CAMUNDA_REST_ADDRESS": "https://c.example/v2", "ZEEBE_REST_ADDRESS": "http://z:8080"}
    assert resolve_rest_url(None, environ) == "https://c.example/v2"
    assert resolve_rest_url("127.0.0.1:9000", environ) == "http://127.0.0.1:9000"
    assert resolve_rest_url(None, {"CAMUNDA_REST_ADDRESS": ""}) == DEFAULT_REST_ADDRESS


@pytest.mark.parametrize(
    "args",
    [
        ("tasks", "list"),
        ("tasks", "complete", "2251799813685249", "--var", "approved=true"),
        ("incidents", "list", "--json"),
        ("incidents", "resolve", "2251799813685249"),
        ("instances", "list"),
    ],
)
def test_unreachable_rest_address_exits_2_with_a_clear_message(args: tuple[str, ...]) -> None:
    """Nothing listening: exit code 2, the address and what to check; no traceback."""
    address = f"http://127.0.0.1:{closed_port()}"
    result = run(*args, CAMUNDA_REST_ADDRESS=address)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"cannot connect to the REST API at {address}" in result.stderr
    assert "CAMUNDA_REST_ADDRESS" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unreachable_rest_address_in_a_child_process() -> None:
    """`python -m shuangshi` as a user runs it: a bare HOST:PORT from the environment, exit code 2."""
    address = f"127.0.0.1:{closed_port()}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_SDK_VARIABLES)}
    environment["CAMUNDA_REST_ADDRESS"] = address
    result = subprocess.run(
        [sys.executable, "-m", "shuangshi", "tasks", "list", "--group", "town:xiji"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environment,
    )
    assert result.returncode == 2
    assert f"cannot connect to the REST API at http://{address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_sdk_configuration_exits_2() -> None:
    """An auth strategy the SDK cannot use (BASIC without a password) is reported, exit code 2."""
    result = run(
        "instances",
        "list",
        "--rest-address",
        "127.0.0.1:1",
        CAMUNDA_AUTH_STRATEGY="BASIC",
        CAMUNDA_BASIC_AUTH_USERNAME="xiji",
    )
    assert result.exit_code == 2
    assert "CAMUNDA_BASIC_AUTH_PASSWORD" in result.stderr


def _problem(status: int, title: str, detail: str) -> ProblemDetail:
    return ProblemDetail(title=title, status=status, detail=detail, instance="/v2/x")


def test_refusals_are_described_by_their_problem_detail() -> None:
    """Status, title and detail of the problem document; a 401 also says how to pass credentials."""
    conflict = ConflictError(
        status_code=409,
        content=b"",
        parsed=_problem(409, "INVALID_STATE", "the job has no retries left"),
    )
    assert describe_api_error(conflict) == (
        "the API refused the request: 409 INVALID_STATE: the job has no retries left"
    )
    body = json.dumps(
        {"title": "UNAUTHORIZED", "status": 401, "detail": "Valid Basic credentials are required"}
    )
    unauthorized = UnauthorizedError(status_code=401, content=body.encode(), parsed=None)
    message = describe_api_error(unauthorized)
    assert message.startswith(
        "the API refused the request: 401 UNAUTHORIZED: Valid Basic credentials are required"
    )
    assert "CAMUNDA_AUTH_STRATEGY=BASIC" in message


def test_hash_password_from_stdin_verifies_with_the_auth_module() -> None:
    """`hash-password --stdin` prints one pbkdf2_sha256 hash that authenticates that password only."""
    result = run("hash-password", "--stdin", stdin="s3cret 密码\n")
    assert result.exit_code == 0, result.stderr
    encoded = result.stdout.strip()
    assert encoded.startswith("pbkdf2_sha256$")
    assert "s3cret" not in result.stdout
    authenticator = BasicAuthenticator({"clerk": (encoded, frozenset({"town:xiji"}))})

    def header(password: str) -> str:
        return "Basic " + base64.b64encode(f"clerk:{password}".encode()).decode()

    principal = authenticator.authenticate(header("s3cret 密码"))
    assert principal is not None
    assert principal.groups == frozenset({"town:xiji"})
    assert authenticator.authenticate(header("s3cret")) is None


def test_hash_password_prompts_twice() -> None:
    """Without --stdin the password is asked twice (hidden), again after a mismatch; prompts go to stderr."""
    result = run("hash-password", stdin="pw-1\npw-2\npw-1\npw-1\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.stderr
    encoded = result.stdout.strip().splitlines()[-1]
    assert encoded.startswith("pbkdf2_sha256$")
    authenticator = BasicAuthenticator({"clerk": (encoded, frozenset())})
    assert authenticator.authenticate("Basic " + base64.b64encode(b"clerk:pw-1").decode()) is not None
    assert "pw-1" not in result.stdout


def test_hash_password_refuses_an_empty_password() -> None:
    """An empty line on stdin is not a password: exit code 2."""
    result = run("hash-password", "--stdin", stdin="\n")
    assert result.exit_code == 2
    assert "empty" in result.stderr


def test_engine_basic_auth_needs_a_users_file(tmp_path: Path) -> None:
    """`engine --auth basic` without `--users-file` exits 2 and says what to pass."""
    result = run("engine", "--auth", "basic", "--rest-address", "127.0.0.1:0", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "--users-file" in result.stderr
    assert not (tmp_path / "engine.sqlite3").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("users: {}\n", "expected a top-level 'users' list"),
        ('users:\n  - {username: a, passwordHash: "plain"}\n', "users[0].passwordHash"),
        ("users: []\n", "nobody could sign in"),
        ("users: [\n", "cannot read the users file"),
    ],
)
def test_engine_refuses_a_bad_users_file(tmp_path: Path, content: str, problem: str) -> None:
    """A users file that cannot be used exits 2 naming the file and the problem."""
    users = tmp_path / "users.yaml"
    users.write_text(content, encoding="utf-8")
    result = run(
        "engine",
        "--auth",
        "basic",
        "--users-file",
        str(users),
        "--rest-address",
        "127.0.0.1:0",
        "--data-dir",
        str(tmp_path / "engine"),
    )
    assert result.exit_code == 2
    assert "users.yaml" in result.stderr
    assert problem in result.stderr


def test_engine_option_combinations_that_make_no_sense(tmp_path: Path) -> None:
    """`--users-file` without `--auth basic`, and `--auth basic` with `--no-rest`, exit 2."""
    users = tmp_path / "users.yaml"
    users.write_text(
        f'users:\n  - {{username: a, passwordHash: "{hash_password("p", iterations=1000)}"}}\n',
        encoding="utf-8",
    )
    data = str(tmp_path / "engine")
    result = run("engine", "--users-file", str(users), "--data-dir", data)
    assert result.exit_code == 2
    assert "only used with --auth basic" in result.stderr
    result = run("engine", "--auth", "basic", "--users-file", str(users), "--no-rest", "--data-dir", data)
    assert result.exit_code == 2
    assert "--no-rest" in result.stderr


def test_engine_refuses_a_rest_port_in_use(tmp_path: Path) -> None:
    """A taken REST port is reported with the option and the address, exit code 2."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = run(
            "engine", "--rest-address", address, "--grpc-address", "127.0.0.1:0", "--data-dir", str(tmp_path)
        )
    assert result.exit_code == 2
    assert f"--rest-address {address}: cannot listen there" in result.stderr


def test_engine_refuses_a_bad_rest_address(tmp_path: Path) -> None:
    """A REST address without a port is refused like a bad gRPC address."""
    result = run("engine", "--rest-address", "localhost", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "HOST:PORT" in result.stderr
