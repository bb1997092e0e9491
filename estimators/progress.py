"""Progress for long work (streaming passes, bootstrap chunks, grouped fits).

Quiet by default for short work: a bar appears only once the work has run
for ``delay`` seconds (2 s), at once with ``progress=True`` and never with
``progress=False``. tqdm draws it when installed (imported lazily, so it is
not a dependency); otherwise one line on stderr is rewritten once a second.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Items done and items/s: tqdm if installed (imported lazily), else a line on stderr.

    Shown only once a pass has run ``delay`` seconds (short work stays quiet),
    or at once with ``progress=True``; never with ``progress=False``.
    """

    def __init__(
        self, setting: bool | None, description: str, total: int | None, unit: str = "rows"
    ):
        self.enabled = setting is not False
        self.delay = 0.0 if setting else 2.0
        self.description, self.total, self.unit = description, total, unit
        self.start, self.rows, self.bar, self.last = time.perf_counter(), 0, None, 0.0

    def update(self, rows: int) -> None:
        if not self.enabled:
            return
        self.rows += rows
        elapsed = time.perf_counter() - self.start
        if elapsed < self.delay:
            return
        if self.bar is None:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.bar = False
            else:
                self.bar = tqdm(desc=self.description, total=self.total, unit=self.unit,
                                unit_scale=True, leave=False)  # fmt: skip
                self.bar.update(self.rows - rows)
        # `is not False`, not truthiness: a tqdm bar without a total refuses bool().
        if self.bar is not False:
            self.bar.update(rows)
        elif elapsed - self.last >= 1.0 or self.delay == 0.0:
            self.last = elapsed
            rate = self.rows / elapsed
            line = f"\r{self.description}: {self.rows:,} {self.unit}, {rate:,.0f} {self.unit}/s"
            print(line, end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None and self.bar is not False:
            self.bar.close()
        elif self.bar is False:
            print(file=sys.stderr)
