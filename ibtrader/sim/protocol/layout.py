"""A small language for the order messages' field layouts, read and written by one walker.

placeOrder, openOrder and completedOrder are long runs of fields with optional groups
(present when the server version or an earlier field says so) and counted repeats. Each
is written once as a table of steps; `read_layout` walks a table over incoming fields and
`write_layout` walks one to emit fields, so reading and writing cannot drift apart.

Values are kept under flat names: a plain field under its own name, the n-th item of a
repeat under ``"<repeat>.<n>.<part>"`` and the repeat's count under ``"<repeat>"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ibtrader.sim.protocol.codec import ProtocolError


@dataclass(frozen=True)
class LayoutContext:
    """What a step's condition may look at: the version, the contract, the values so far."""

    version: int
    sec_type: str
    exchange: str
    values: dict[str, str]

    def text(self, name: str) -> str:
        return self.values.get(name, "")


Predicate = Callable[[LayoutContext], bool]


@dataclass(frozen=True)
class When:
    """Steps present only when `test` holds."""

    test: Predicate
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Flag:
    """A 0/1 field; when 1, `steps` follow (the delta-neutral contract)."""

    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Repeat:
    """A count, then that many items of `parts`."""

    name: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Conditions:
    """Order conditions: a count, then per item its type and that type's parts."""

    name: str
    parts_by_type: Mapping[str, tuple[str, ...]]


Step = str | When | Flag | Repeat | Conditions


def since(version: int, *steps: Step) -> When:
    return When(lambda ctx: ctx.version >= version, steps)


def before(version: int, *steps: Step) -> When:
    return When(lambda ctx: ctx.version < version, steps)


def item_name(repeat: str, index: int, part: str) -> str:
    return f"{repeat}.{index}.{part}"


class FieldCursor:
    """Reads one message's fields in order; running out names the message and field."""

    def __init__(self, fields: list[str], start: int, message: str) -> None:
        self.fields = fields
        self.index = start
        self.message = message

    def take(self, name: str) -> str:
        if self.index >= len(self.fields):
            raise ProtocolError(
                f"{self.message}: message ends before field {name!r} (index {self.index})"
            )
        value = self.fields[self.index]
        self.index += 1
        return value

    def take_count(self, name: str) -> int:
        text = self.take(name)
        try:
            count = int(text or 0)
        except ValueError:
            raise ProtocolError(f"{self.message}: {name!r} is not a count: {text!r}") from None
        if count < 0 or count > len(self.fields):
            raise ProtocolError(f"{self.message}: implausible {name!r} count {count}")
        return count

    @property
    def remaining(self) -> int:
        return len(self.fields) - self.index


def read_layout(steps: tuple[Step, ...], cursor: FieldCursor, ctx: LayoutContext) -> None:
    """Walk `steps` over the cursor, storing every value in ctx.values (a dict)."""
    values = ctx.values
    for step in steps:
        if isinstance(step, str):
            values[step] = cursor.take(step)
        elif isinstance(step, When):
            if step.test(ctx):
                read_layout(step.steps, cursor, ctx)
        elif isinstance(step, Flag):
            values[step.name] = flag = cursor.take(step.name)
            if is_true(flag):
                read_layout(step.steps, cursor, ctx)
        elif isinstance(step, Repeat):
            count = cursor.take_count(step.name)
            values[step.name] = str(count)
            for index in range(count):
                for part in step.parts:
                    values[item_name(step.name, index, part)] = cursor.take(part)
        else:
            _read_conditions(step, cursor, values)


def _read_conditions(step: Conditions, cursor: FieldCursor, values: dict[str, str]) -> None:
    count = cursor.take_count(step.name)
    values[step.name] = str(count)
    for index in range(count):
        cond_type = cursor.take("condType")
        parts = step.parts_by_type.get(cond_type.strip())
        if parts is None:
            raise ProtocolError(f"{cursor.message}: unknown order condition type {cond_type!r}")
        values[item_name(step.name, index, "condType")] = cond_type
        for part in parts:
            values[item_name(step.name, index, part)] = cursor.take(part)


Render = Callable[[str], str]


def write_layout(steps: tuple[Step, ...], ctx: LayoutContext, render: Render) -> list[str]:
    """The fields `steps` lay out for ctx.values; `render(name)` gives one field's text."""
    out: list[str] = []
    _write(steps, ctx, render, out)
    return out


def _write(steps: tuple[Step, ...], ctx: LayoutContext, render: Render, out: list[str]) -> None:
    for step in steps:
        if isinstance(step, str):
            out.append(render(step))
        elif isinstance(step, When):
            if step.test(ctx):
                _write(step.steps, ctx, render, out)
        elif isinstance(step, Flag):
            # the client reads this with int(), so it is never left empty
            present = is_true(ctx.text(step.name))
            out.append("1" if present else "0")
            if present:
                _write(step.steps, ctx, render, out)
        elif isinstance(step, Repeat):
            count = count_of(ctx.values, step.name)
            out.append(str(count))
            for index in range(count):
                out.extend(render(item_name(step.name, index, p)) for p in step.parts)
        else:
            _write_conditions(step, ctx, render, out)


def _write_conditions(step: Conditions, ctx: LayoutContext, render: Render, out: list[str]) -> None:
    count = count_of(ctx.values, step.name)
    out.append(str(count))
    for index in range(count):
        cond_type = ctx.text(item_name(step.name, index, "condType")).strip()
        out.append(cond_type)
        for part in step.parts_by_type.get(cond_type, ()):
            out.append(render(item_name(step.name, index, part)))


def count_of(values: Mapping[str, str], name: str) -> int:
    try:
        return max(int(values.get(name) or 0), 0)
    except ValueError:
        return 0


def is_true(text: str) -> bool:
    """A wire boolean: "1" (or any non-zero number) and "true" count as set."""
    text = text.strip().lower()
    if text in ("", "0", "false"):
        return False
    if text == "true":
        return True
    try:
        return float(text) != 0.0
    except ValueError:
        return False
