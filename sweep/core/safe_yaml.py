"""Reading experiment and search-space YAML safely: every bad file is one :class:`ConfigError`.

``yaml.safe_load`` refuses code, but not a file built to exhaust the machine or to mislead:

* aliases: an alias repeats a block without copying it, so nine lines of anchors can stand for
  a billion values ("billion laughs"); anything that walks the loaded data (validation, the
  registry's JSON) then expands them. Anchors and aliases stay allowed, but the document may
  hold at most :data:`MAX_NODES` values once every alias is expanded, and no alias may contain
  itself;
* nesting deeper than :data:`MAX_DEPTH` (also through aliases): Python's recursion runs out
  long before memory does;
* duplicate keys, which YAML loaders resolve silently (the last one wins), so the value a user
  reads in the file is not the value that runs;
* bytes that are not UTF-8, NUL bytes (a binary file), an empty file, a directory, a device, or
  a file far larger than any config.

The checks run on the composed node graph, where an alias is a second reference to one node, so
they take time linear in the file's size; the bomb is refused in milliseconds.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from sweep.core.errors import ConfigError

MAX_BYTES = 256_000  # the shipped configs are under 2 kB; PyYAML (pure Python) reads ~0.3 MB/s
MAX_NODES = 10_000  # values after alias expansion: a config has under 100, a big space a few 1000
MAX_DEPTH = 64  # the deepest valid config nests 5 levels (sweep.pruner.type inside a mapping)

_HINT_TEXT = "experiment and search-space files are UTF-8 YAML text"


def read_text(path: Path) -> str:
    """The file's text, read as UTF-8 (a leading byte-order mark is dropped)."""
    file = str(path)
    try:
        info = path.stat()
    except FileNotFoundError as e:
        raise ConfigError("file not found", file=file, hint="check the path") from e
    except OSError as e:
        raise ConfigError(
            f"cannot read file: {e.strerror}", file=file, hint="check the path"
        ) from e
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            "is a directory, not a file", file=file, hint="give the path of a .yaml file"
        )
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            "is not a regular file (a device, pipe or socket)",
            file=file,
            hint="give the path of a .yaml file",
        )
    if info.st_size > MAX_BYTES:
        raise ConfigError(
            f"is {info.st_size:,} bytes; a config file is at most {MAX_BYTES:,}",
            file=file,
            hint="is this the right file? configs are a few kB",
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ConfigError(
            f"cannot read file: {e.strerror}", file=file, hint="check the path"
        ) from e
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError("is UTF-16 text", file=file, hint=f"save it as UTF-8; {_HINT_TEXT}")
    if not raw.strip():
        raise ConfigError(
            "the file is empty", file=file, hint="start with 'experiment_id: my-experiment'"
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ConfigError(
            f"holds a NUL byte at {_where(raw, nul)}: not a text file",
            file=file,
            hint=_HINT_TEXT,
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"is not UTF-8: byte {raw[e.start]:#04x} at {_where(raw, e.start)}",
            file=file,
            value=raw[max(0, e.start - 10) : e.start + 10],
            hint=f"save the file as UTF-8; {_HINT_TEXT}",
        ) from e


def _where(raw: bytes, offset: int) -> str:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


class _Refused(Exception):
    """A structural problem found while composing; turned into a ConfigError with the file."""

    def __init__(self, message: str, key: str, hint: str, value: object = None) -> None:
        super().__init__(message)
        self.message, self.key, self.hint, self.value = message, key, hint, value


def _dotted(path: list[str] | tuple[str, ...]) -> str:
    """``sweep.objective[1]``: list indexes attach to their key without a dot."""
    return "".join(p if p.startswith("[") or i == 0 else f".{p}" for i, p in enumerate(path))


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader, composing with a depth limit, a node budget and unique keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[str] = []
        self._composed = 0

    # The scanner looks ahead over nested '[' and '{' with work growing as the square of the
    # depth (a 20,000-deep line takes seconds), so depth is refused as the scanner meets it.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(
                f"nests deeper than {MAX_DEPTH} levels",
                f"line {self.line + 1}",
                "a config nests a few levels; is the file generated by mistake?",
            )
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise _Refused(
                f"nests deeper than {MAX_DEPTH} levels",
                f"line {self.line + 1}",
                "a config nests a few levels; is the file generated by mistake?",
            )
        added: bool = super().add_indent(column)
        return added

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        part = (
            str(index.value)
            if isinstance(index, yaml.ScalarNode)
            else f"[{index}]"
            if isinstance(index, int)
            else None
        )
        if part is not None:
            self._path.append(part)
        try:
            if len(self._path) > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _Refused(
                    f"nests deeper than {MAX_DEPTH} levels",
                    f"line {event.start_mark.line + 1}",
                    "a config nests a few levels; is the file generated by mistake?",
                )
            self._composed += 1
            if self._composed > MAX_NODES:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _Refused(
                    f"holds more than {MAX_NODES:,} values",
                    f"line {event.start_mark.line + 1}",
                    "a config holds a few dozen values; is this the right file?",
                )
            return super().compose_node(parent, index)
        finally:
            if part is not None:
                self._path.pop()

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:  # the stubs' type is wrong
        node: yaml.MappingNode = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges on purpose; its keys may be overridden
            ident = (key.tag, key.value)
            if ident in seen:
                path = _dotted([*self._path, str(key.value)])
                raise _Refused(
                    f"duplicate key (first at line {seen[ident]})",
                    f"{path} (line {_line(key)})",
                    "write each key once; YAML would silently keep only the last value",
                )
            seen[ident] = _line(key)
        return node


def _check_expanded(root: yaml.Node) -> None:
    """Refuse a document that is too big or too deep once aliases are expanded, or that
    contains itself. Each distinct node is measured once (its expanded size and height are
    memoised), so the time is linear in the file, however much the aliases would expand."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    on_path: set[int] = set()

    def measure(node: yaml.Node, path: tuple[str, ...]) -> tuple[int, int]:
        where = f"{_dotted(path)} (line {_line(node)})" if path else f"line {_line(node)}"
        if id(node) in on_path:
            raise _Refused(
                "an alias refers to a block that contains it",
                where,
                "an alias may repeat a block, not nest it inside itself",
            )
        if id(node) not in measured:
            if len(path) > MAX_DEPTH:  # before descending: the recursion stays shallow
                raise _Refused(
                    f"nests deeper than {MAX_DEPTH} levels once aliases are expanded",
                    where,
                    "an alias may repeat a block, not build a deep chain of them",
                )
            on_path.add(id(node))
            children: list[tuple[yaml.Node, tuple[str, ...]]] = []
            if isinstance(node, yaml.SequenceNode):
                children = [(n, (*path, f"[{i}]")) for i, n in enumerate(node.value)]
            elif isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    name = str(k.value) if isinstance(k, yaml.ScalarNode) else "?"
                    children += [(k, path), (v, (*path, name))]
            total, height = 1, 0
            for child, child_path in children:
                size, below = measure(child, child_path)
                total += size
                height = max(height, below + len(child_path) - len(path))
                if total > MAX_NODES:
                    raise _Refused(
                        f"expands to more than {MAX_NODES:,} values through aliases",
                        where,
                        "an alias may repeat a block, not multiply it (a YAML 'billion laughs')",
                    )
            on_path.discard(id(node))
            measured[id(node)] = (total, height)
        size, height = measured[id(node)]
        if len(path) + height > MAX_DEPTH:
            raise _Refused(
                f"nests deeper than {MAX_DEPTH} levels once aliases are expanded",
                where,
                "an alias may repeat a block, not build a deep chain of them",
            )
        return size, height

    measure(root, ())


def parse_yaml(text: str, *, file: str) -> tuple[Any, yaml.Node | None]:
    """The loaded document and its node graph (``None``, ``None`` for an empty document)."""
    try:
        loader = _Loader(text)  # the reader refuses non-printable characters here
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            _check_expanded(node)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except _Refused as e:
        raise ConfigError(e.message, file=file, key=e.key, value=e.value, hint=e.hint) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(
            f"malformed YAML: {where}{problem}", file=file, hint="check indentation and ':'"
        ) from e
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise ConfigError(
            f"malformed YAML: {str(e).splitlines()[0]}",
            file=file,
            hint="numbers in a config are short; is this the right file?",
        ) from e
    return data, node
