"""The demo's phases on the terminal: each phase timed, a long one shown as a rich progress bar with
its rate and ETA, and a table of the phases' timings at the end (also read by `bench/city.py`).

Where the output is not a terminal (a log file, the end-to-end test), rich draws no live bar: the
bar's line is printed every `log_every_s` seconds instead, and once when the phase ends."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


@dataclass
class PhaseTiming:
    name: str
    seconds: float
    items: int | None = None
    unit: str = ""

    @property
    def rate(self) -> float | None:
        return self.items / self.seconds if self.items and self.seconds > 0 else None


class RateColumn(TextColumn):
    """Items a second over the task so far (rich's own speed column speaks of bytes)."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[no-untyped-def]
        from rich.text import Text

        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "")
        return Text(f"{speed:,.0f} {unit}/s" if speed else f"– {unit}/s", style="progress.data.speed")


class Bar:
    """One phase's bar: `advance(n)` as work completes, `update(completed=, total=)` when the total is
    only learnt on the way (a consumer's lag)."""

    def __init__(self, phases: Phases, progress: Progress, task: TaskID) -> None:
        self._phases = phases
        self._progress = progress
        self._task = task
        self._logged = time.monotonic()

    def advance(self, n: float = 1) -> None:
        self._progress.advance(self._task, n)
        self._log()

    def update(self, *, completed: float | None = None, total: float | None = None, note: str | None = None) -> None:
        fields = {"note": note} if note is not None else {}
        self._progress.update(self._task, completed=completed, total=total, **fields)
        self._log()

    @property
    def completed(self) -> float:
        return self._progress.tasks[0].completed

    def _log(self) -> None:
        console = self._phases.console
        if console.is_terminal:
            return  # rich draws the bar live; off a terminal it prints the bar's last state when the phase ends
        if time.monotonic() - self._logged >= self._phases.log_every_s:
            self._logged = time.monotonic()
            console.print(self._progress.make_tasks_table(self._progress.tasks))


class Phases:
    def __init__(self, console: Console | None = None, log_every_s: float = 15.0) -> None:
        # off a terminal rich assumes 80 columns: wider, so that a log's bars and table stay on one line
        self.console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 150)
        self.log_every_s = log_every_s
        self.started = time.monotonic()
        self.timings: list[PhaseTiming] = []

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    @contextmanager
    def phase(self, name: str, total: float | None = None, unit: str = "") -> Iterator[Bar]:
        """Time `name`; the bar it yields shows rate and ETA once it knows its total."""
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=self.console,
            transient=False,
            refresh_per_second=4,
        )
        task = progress.add_task(name, total=total, unit=unit, note="")
        bar = Bar(self, progress, task)
        started = time.monotonic()
        with progress:
            try:
                yield bar
            finally:
                seconds = time.monotonic() - started
                state = progress.tasks[0]
                if state.total is not None and state.completed < state.total and state.finished_time is None:
                    progress.update(task, total=state.completed or None)
        done = int(progress.tasks[0].completed)
        self.timings.append(PhaseTiming(name, seconds, done if unit else None, unit))

    def record(self, name: str, seconds: float, items: int | None = None, unit: str = "") -> None:
        """A phase timed elsewhere (a quick one that needs no bar)."""
        self.timings.append(PhaseTiming(name, seconds, items, unit))

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A short phase: timed, no bar."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.record(name, time.monotonic() - started)

    @property
    def total_s(self) -> float:
        return time.monotonic() - self.started

    def table(self, title: str = "各阶段用时 / time per phase") -> Table:
        table = Table(title=title, title_justify="left")
        table.add_column("阶段 / phase")
        table.add_column("秒 / s", justify="right")
        table.add_column("数量 / items", justify="right")
        table.add_column("每秒 / rate", justify="right")
        table.add_column("占比 / share", justify="right")
        total = self.total_s
        for t in self.timings:
            table.add_row(
                t.name,
                f"{t.seconds:.1f}",
                f"{t.items:,} {t.unit}" if t.items is not None else "",
                f"{t.rate:,.0f}/s" if t.rate is not None else "",
                f"{t.seconds / total:.0%}" if total > 0 else "",
            )
        table.add_row("合计 / total", f"{total:.1f}", "", "", "100%", style="bold")
        return table

    def summary(self) -> None:
        self.console.print(self.table())
