"""Progress of a loop: a live bar on a terminal, a few plain lines in a log file.

On a terminal (stdout is a TTY) this is Keras's progress bar. Otherwise (output
redirected to a file or a pipe) a bar would write a line per update, so a
`Progress` prints one line when the loop ends and, for long loops, one line per
`every` fraction of the work once at least `min_seconds` have passed since the
last line: a two-epoch quickstart log stays a few kilobytes.
"""

import sys
import time


def _is_tty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _format(values):
    return "  ".join(f"{name} {value:.4g}" for name, value in values)


class Progress:
    """`update(step, values)`: 1-based `step` of `total`; `values` [(name, float)] are shown
    as given (running averages, not averaged again)."""

    def __init__(self, total, label="", enabled=True, stream=None, tty=None, every=0.1,
                 min_seconds=30.0, final_line=True):
        self.total, self.label, self.enabled = int(total), label, enabled
        self.stream = stream or sys.stdout
        self.tty = _is_tty(self.stream) if tty is None else tty
        self.every, self.min_seconds = every, min_seconds
        self.final_line = final_line  # False: no line at all for a loop under min_seconds
        self._start = self._last_line = time.monotonic()
        self._printed = False
        self._next_mark = every
        self._bar = None

    def update(self, step, values=()):
        if not self.enabled:
            return
        values = list(values)
        if self.tty:
            if self._bar is None:
                import keras

                self._bar = keras.utils.Progbar(self.total, verbose=1,
                                                stateful_metrics=[n for n, _ in values])
            self._bar.update(step, values)
            return
        now = time.monotonic()
        done = step / self.total if self.total else 1.0
        if step >= self.total:
            if self.final_line or self._printed or now - self._start >= self.min_seconds:
                self._line(step, values, now)
        elif done >= self._next_mark and now - self._last_line >= self.min_seconds:
            self._line(step, values, now)
        while self._next_mark <= done:
            self._next_mark += self.every

    def _line(self, step, values, now):
        elapsed = now - self._start
        head = f"{self.label}: " if self.label else ""
        text = f"{head}{step}/{self.total} ({100.0 * step / max(self.total, 1):.0f}%, " \
               f"{elapsed:.0f} s)"
        if values:
            text += "  " + _format(values)
        print(text, file=self.stream, flush=True)
        self._last_line, self._printed = now, True
