"""The engine's current picture, held in memory and persisted to SQLite by the single writer.

Every entity is a small dataclass stored as a JSON document in one ``entities`` table keyed by
(kind, key); variables live in their own table keyed by (scope, name). The processor marks what it
changes as dirty; ``Store.flush`` writes exactly that, together with the appended records, in one
transaction. Indexes (children per scope, activatable jobs per type, subscriptions per message) are
derived on load and kept in step by the processor, never stored.
"""

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}

# Zeebe's keys on partition 1 start here (partition id in the top bits of a 64-bit key).
FIRST_KEY = (1 << 51) + 1


class Entity:
    kind: ClassVar[str]
    key: int

    def to_json(self) -> str:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))  # type: ignore[arg-type]
        return json.dumps({name: getattr(self, name) for name in names}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls(**json.loads(text))


@dataclass(slots=True)
class ProcessDefinition(Entity):
    kind: ClassVar[str] = "process"
    key: int
    bpmn_process_id: str
    version: int
    resource_name: str
    checksum: str
    xml: str
    deployment_key: int
    name: str | None = None


@dataclass(slots=True)
class FormDefinition(Entity):
    kind: ClassVar[str] = "form"
    key: int
    form_id: str
    version: int
    resource_name: str
    checksum: str
    schema: str
    deployment_key: int


@dataclass(slots=True)
class ElementInstance(Entity):
    kind: ClassVar[str] = "element"
    key: int
    process_instance_key: int
    process_definition_key: int
    element_id: str
    element_type: str
    flow_scope_key: int | None
    # ACTIVATING (activation pending or stuck on an incident), ACTIVATED (waiting),
    # COMPLETING (stuck on an output-mapping incident)
    state: str = "ACTIVATING"
    job_key: int | None = None
    user_task_key: int | None = None
    called_instance_key: int | None = None  # call activity → child process instance
    parent_element_instance_key: int | None = None  # child process root → call activity
    loop_counter: int | None = None
    # Multi-instance body: the input items, how many inner instances were started / completed.
    mi_items: list[Any] | None = None
    mi_started: int = 0
    mi_completed: int = 0
    # Scopes: tokens waiting at joining gateways, gateway id → flow id → count.
    joins: dict[str, dict[str, int]] = field(default_factory=dict)
    interrupted: bool = False
    # Variables handed to the element by the event that completes it (job, message, error, child).
    pending_variables: dict[str, Any] | None = None
    created_ms: int = 0


@dataclass(slots=True)
class Job(Entity):
    kind: ClassVar[str] = "job"
    key: int
    type: str
    process_instance_key: int
    element_instance_key: int
    process_definition_key: int
    bpmn_process_id: str
    process_definition_version: int
    element_id: str
    custom_headers: dict[str, str]
    retries: int
    # ACTIVATABLE, ACTIVATED, BACKOFF (failed, waiting for its back-off), FAILED (no retries, incident),
    # ERROR_THROWN (no catch event, incident)
    state: str = "ACTIVATABLE"
    worker: str = ""
    deadline_ms: int = -1
    backoff_until_ms: int = -1
    error_message: str = ""
    error_code: str = ""
    created_ms: int = 0


@dataclass(slots=True)
class Timer(Entity):
    kind: ClassVar[str] = "timer"
    key: int
    due_ms: int
    element_id: str  # the catch event, boundary event or start event it triggers
    process_definition_key: int
    element_instance_key: int | None  # None for timer start events
    process_instance_key: int | None
    repetitions: int = 1  # remaining, -1 unbounded
    interval: str | None = None  # ISO duration for cycles


@dataclass(slots=True)
class Subscription(Entity):
    kind: ClassVar[str] = "subscription"
    key: int
    message_name: str
    correlation_key: str
    element_id: str  # catch event, boundary event or event-subprocess start event
    element_instance_key: int  # the element (or scope) that opened it
    process_instance_key: int
    process_definition_key: int
    interrupting: bool = True


@dataclass(slots=True)
class Message(Entity):
    kind: ClassVar[str] = "message"
    key: int
    name: str
    correlation_key: str
    deadline_ms: int
    variables: dict[str, Any]
    message_id: str = ""
    correlated_instances: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Incident(Entity):
    kind: ClassVar[str] = "incident"
    key: int
    error_type: str
    error_message: str
    process_instance_key: int
    process_definition_key: int
    bpmn_process_id: str
    element_id: str
    element_instance_key: int
    job_key: int | None = None
    state: str = "ACTIVE"  # ACTIVE, RESOLVED
    created_ms: int = 0


@dataclass(slots=True)
class UserTask(Entity):
    kind: ClassVar[str] = "usertask"
    key: int
    element_instance_key: int
    process_instance_key: int
    process_definition_key: int
    bpmn_process_id: str
    process_definition_version: int
    element_id: str
    name: str | None
    form_key: int | None
    form_id: str | None
    external_form_reference: str | None
    assignee: str | None
    candidate_groups: list[str]
    candidate_users: list[str]
    due_date: str | None
    follow_up_date: str | None
    priority: int
    custom_headers: dict[str, str]
    state: str = "CREATED"  # CREATED, COMPLETED, CANCELED
    created_ms: int = 0
    completed_ms: int | None = None


@dataclass(slots=True)
class InstanceInfo(Entity):
    """A process instance as operators search for it, kept after it ends."""

    kind: ClassVar[str] = "instance"
    key: int
    bpmn_process_id: str
    process_definition_key: int
    version: int
    state: str  # ACTIVE, COMPLETED, TERMINATED
    start_ms: int
    end_ms: int | None = None
    parent_process_instance_key: int | None = None
    parent_element_instance_key: int | None = None
    has_incident: bool = False


ENTITY_TYPES: dict[str, type[Entity]] = {
    cls.kind: cls
    for cls in (
        ProcessDefinition,
        FormDefinition,
        ElementInstance,
        Job,
        Timer,
        Subscription,
        Message,
        Incident,
        UserTask,
        InstanceInfo,
    )
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    kind TEXT NOT NULL, key INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS variables (
    scope_key INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (scope_key, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    position INTEGER PRIMARY KEY, key INTEGER NOT NULL, value_type TEXT NOT NULL, intent TEXT NOT NULL,
    process_instance_key INTEGER, timestamp INTEGER NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_instance ON records (process_instance_key, position);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(slots=True)
class Record:
    position: int
    key: int
    value_type: str
    intent: str
    process_instance_key: int | None
    timestamp: int
    value: dict[str, Any]


class State:
    """All live entities, their derived indexes, and what changed since the last flush."""

    def __init__(self) -> None:
        self.entities: dict[str, dict[int, Any]] = {kind: {} for kind in ENTITY_TYPES}
        self.variables: dict[int, dict[str, Any]] = defaultdict(dict)
        self.next_key = FIRST_KEY
        self.next_position = 1
        # derived indexes
        self.children: dict[int, set[int]] = defaultdict(set)
        self.activatable: dict[str, dict[int, None]] = defaultdict(dict)
        self.subscriptions_by_message: dict[tuple[str, str], dict[int, None]] = defaultdict(dict)
        self.latest_process: dict[str, int] = {}
        # timers and subscriptions by the element instance that owns them (closed when it ends)
        self.owned: dict[int, set[tuple[str, int]]] = defaultdict(set)
        self.latest_form: dict[str, int] = {}
        # change tracking
        self.dirty: set[tuple[str, int]] = set()
        self.dirty_variables: set[tuple[int, str]] = set()
        self.pending_records: list[Record] = []

    # typed views -------------------------------------------------------------------------------
    @property
    def processes(self) -> dict[int, ProcessDefinition]:
        return self.entities["process"]

    @property
    def forms(self) -> dict[int, FormDefinition]:
        return self.entities["form"]

    @property
    def elements(self) -> dict[int, ElementInstance]:
        return self.entities["element"]

    @property
    def jobs(self) -> dict[int, Job]:
        return self.entities["job"]

    @property
    def timers(self) -> dict[int, Timer]:
        return self.entities["timer"]

    @property
    def subscriptions(self) -> dict[int, Subscription]:
        return self.entities["subscription"]

    @property
    def messages(self) -> dict[int, Message]:
        return self.entities["message"]

    @property
    def incidents(self) -> dict[int, Incident]:
        return self.entities["incident"]

    @property
    def user_tasks(self) -> dict[int, UserTask]:
        return self.entities["usertask"]

    @property
    def instances(self) -> dict[int, InstanceInfo]:
        return self.entities["instance"]

    # mutation helpers --------------------------------------------------------------------------
    def new_key(self) -> int:
        key = self.next_key
        self.next_key += 1
        return key

    def put(self, entity: Entity) -> None:
        self.entities[entity.kind][entity.key] = entity
        self.dirty.add((entity.kind, entity.key))
        self._index_add(entity)

    def touch(self, entity: Entity) -> None:
        """Mark an entity changed in place (indexes that depend on changed fields are the caller's)."""
        self.dirty.add((entity.kind, entity.key))

    def remove(self, entity: Entity) -> None:
        self.entities[entity.kind].pop(entity.key, None)
        self.dirty.add((entity.kind, entity.key))
        self._index_remove(entity)

    def set_variable(self, scope_key: int, name: str, value: Any) -> None:
        self.variables[scope_key][name] = value
        self.dirty_variables.add((scope_key, name))

    def drop_scope_variables(self, scope_key: int) -> None:
        names = self.variables.pop(scope_key, None)
        if names:
            self.dirty_variables.update((scope_key, n) for n in names)

    def append(self, record: Record) -> None:
        self.pending_records.append(record)

    def _index_add(self, entity: Entity) -> None:
        if isinstance(entity, (Timer, Subscription)) and entity.element_instance_key is not None:
            self.owned[entity.element_instance_key].add((entity.kind, entity.key))
        if isinstance(entity, ElementInstance) and entity.flow_scope_key is not None:
            self.children[entity.flow_scope_key].add(entity.key)
        elif isinstance(entity, Job) and entity.state == "ACTIVATABLE":
            self.activatable[entity.type][entity.key] = None
        elif isinstance(entity, Subscription):
            self.subscriptions_by_message[(entity.message_name, entity.correlation_key)][entity.key] = None
        elif isinstance(entity, ProcessDefinition):
            current = self.latest_process.get(entity.bpmn_process_id)
            if current is None or self.processes[current].version < entity.version:
                self.latest_process[entity.bpmn_process_id] = entity.key
        elif isinstance(entity, FormDefinition):
            current = self.latest_form.get(entity.form_id)
            if current is None or self.forms[current].version < entity.version:
                self.latest_form[entity.form_id] = entity.key

    def _index_remove(self, entity: Entity) -> None:
        if isinstance(entity, (Timer, Subscription)) and entity.element_instance_key is not None:
            owned = self.owned.get(entity.element_instance_key)
            if owned is not None:
                owned.discard((entity.kind, entity.key))
                if not owned:
                    del self.owned[entity.element_instance_key]
        if isinstance(entity, ElementInstance) and entity.flow_scope_key is not None:
            siblings = self.children.get(entity.flow_scope_key)
            if siblings is not None:
                siblings.discard(entity.key)
                if not siblings:
                    del self.children[entity.flow_scope_key]
        elif isinstance(entity, Job):
            self.activatable.get(entity.type, {}).pop(entity.key, None)
        elif isinstance(entity, Subscription):
            index = (entity.message_name, entity.correlation_key)
            bucket = self.subscriptions_by_message.get(index)
            if bucket is not None:
                bucket.pop(entity.key, None)
                if not bucket:
                    del self.subscriptions_by_message[index]

    def set_job_state(self, job: Job, state: str) -> None:
        job.state = state
        if state == "ACTIVATABLE":
            self.activatable[job.type][job.key] = None
        else:
            self.activatable.get(job.type, {}).pop(job.key, None)
        self.touch(job)


class Store:
    """SQLite (WAL) persistence of ``State``: load everything at start, flush changes per batch."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a killed process (the WAL is in the OS cache); FULL also survives power loss.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def load(self) -> State:
        state = State()
        for kind, _key, data in self.db.execute("SELECT kind, key, data FROM entities ORDER BY kind, key"):
            entity = ENTITY_TYPES[kind].from_json(data)
            state.entities[kind][entity.key] = entity
            state._index_add(entity)
        for scope_key, name, value in self.db.execute("SELECT scope_key, name, value FROM variables"):
            state.variables[scope_key][name] = json.loads(value)
        meta = dict(self.db.execute("SELECT name, value FROM meta").fetchall())
        state.next_key = meta.get("next_key", FIRST_KEY)
        state.next_position = meta.get("next_position", 1)
        return state

    def flush(self, state: State) -> None:
        if not state.dirty and not state.dirty_variables and not state.pending_records:
            return
        upserts: list[tuple[str, int, str]] = []
        deletes: list[tuple[str, int]] = []
        for kind, key in state.dirty:
            entity = state.entities[kind].get(key)
            if entity is None:
                deletes.append((kind, key))
            else:
                upserts.append((kind, key, entity.to_json()))
        var_upserts: list[tuple[int, str, str]] = []
        var_deletes: list[tuple[int, str]] = []
        for scope_key, name in state.dirty_variables:
            scope = state.variables.get(scope_key)
            if scope is not None and name in scope:
                var_upserts.append((scope_key, name, json.dumps(scope[name], ensure_ascii=False)))
            else:
                var_deletes.append((scope_key, name))
        records = [
            (
                r.position,
                r.key,
                r.value_type,
                r.intent,
                r.process_instance_key,
                r.timestamp,
                json.dumps(r.value, ensure_ascii=False),
            )
            for r in state.pending_records
        ]
        db = self.db
        db.execute("BEGIN")
        try:
            if upserts:
                db.executemany("INSERT OR REPLACE INTO entities (kind, key, data) VALUES (?, ?, ?)", upserts)
            if deletes:
                db.executemany("DELETE FROM entities WHERE kind = ? AND key = ?", deletes)
            if var_upserts:
                db.executemany(
                    "INSERT OR REPLACE INTO variables (scope_key, name, value) VALUES (?, ?, ?)", var_upserts
                )
            if var_deletes:
                db.executemany("DELETE FROM variables WHERE scope_key = ? AND name = ?", var_deletes)
            if records:
                db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", records)
            db.executemany(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                [("next_key", state.next_key), ("next_position", state.next_position)],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        state.dirty.clear()
        state.dirty_variables.clear()
        state.pending_records.clear()

    def records(
        self, *, process_instance_key: int | None = None, after_position: int = 0, limit: int = 1000
    ) -> list[Record]:
        sql = "SELECT position, key, value_type, intent, process_instance_key, timestamp, value FROM records"
        args: list[Any] = []
        where = ["position > ?"]
        args.append(after_position)
        if process_instance_key is not None:
            where.append("process_instance_key = ?")
            args.append(process_instance_key)
        sql += " WHERE " + " AND ".join(where) + " ORDER BY position LIMIT ?"
        args.append(limit)
        return [
            Record(p, k, vt, i, pik, ts, json.loads(v))
            for p, k, vt, i, pik, ts, v in self.db.execute(sql, args)
        ]

    def find_records(
        self,
        value_type: str,
        *,
        intents: Iterable[str] = (),
        key: int | None = None,
        process_instance_key: int | None = None,
        position: int | None = None,
    ) -> list[Record]:
        """Every record of ``value_type`` matching the given columns, in position order (no limit).

        The read side of the REST API: history that outlives the entities in memory.
        """
        where = ["value_type = ?"]
        args: list[Any] = [value_type]
        wanted = list(intents)
        if wanted:
            where.append(f"intent IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        columns = (("key", key), ("process_instance_key", process_instance_key), ("position", position))
        for column, value in columns:
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT position, key, value_type, intent, process_instance_key, timestamp, value FROM records"
        sql += " WHERE " + " AND ".join(where) + " ORDER BY position"
        return [
            Record(p, k, vt, i, pik, ts, json.loads(v))
            for p, k, vt, i, pik, ts, v in self.db.execute(sql, args)
        ]

    def close(self) -> None:
        self.db.close()
