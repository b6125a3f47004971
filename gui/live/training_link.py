"""The window's end of the training process (its loop: core/training/loop.py): starts it, sends
it commands, hands its messages to the GUI thread as a signal, and notices when it dies.

Messages are read in the GUI thread when the pipe has some (a QSocketNotifier on it), not by a
polling thread: a Python thread busy in this process would compete with painting for the GIL,
the very thing the process is there to avoid. Commands go on a multiprocessing Queue, whose
feeder thread wakes only to write them; so sending never blocks the window, not even a large
document snapshot sent while the process is busy.

The process is started by a forkserver (never forked from this process, which runs Qt's
threads) that has the trainer's modules preloaded, so a new window gets its process in a few
milliseconds. multiprocessing runs the __main__ script's top level again in the new process
(except under `python -m`): scripts that open a window import Qt inside functions, so the
training process never loads Qt.
"""
from __future__ import annotations

import multiprocessing
import signal
import time

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal
from threadpoolctl import threadpool_limits

from core.data.dataset import Dataset
from core.network import Network
from core.settings import TrainingSettings
from core.training.loop import serve
from core.training.progress import IdsOnce

if "forkserver" in multiprocessing.get_all_start_methods():
    CONTEXT = multiprocessing.get_context("forkserver")
    CONTEXT.set_forkserver_preload(["core.training.loop"])
else:  # Windows: no forkserver; spawn starts a fresh interpreter (slower, equally safe)
    CONTEXT = multiprocessing.get_context("spawn")
# The training process needs a core to itself. The window's own number crunching (surface
# grids, decision images) stays on one thread here: spread over every core by BLAS, it
# preempted the trainer (on 2 cores, live training lost a tenth of its speed to it).
threadpool_limits(limits=1, user_api="blas")

# The reply pipe's buffer, where the system lets us choose (Linux, up to 1 MB unprivileged).
# The process sends from its training loop and the window reads only between paints: with
# room for a whole Progress (about 100 kB for a small net) the trainer never waits for the
# window. (A thread in the process sending on its behalf cost more, in handing the GIL back
# and forth, than the waits it saved.)
PIPE_BYTES = 2**20
REPLY_SECONDS = 5.0  # a request unanswered for this long is given up (the caller gets None)
STOP_SECONDS = 2.0  # per attempt: quit, then terminate, then kill


class TrainingLink(QObject):
    # A message from the process. Of several Progress messages read at once only the newest
    # is passed on: older ones would be drawn only to be drawn over.
    received = Signal(tuple)
    died = Signal()  # the process ended without being stopped

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process = None
        self._commands = None
        self._replies = None
        self._notifier: QSocketNotifier | None = None
        self._unread: list[tuple] = []
        self._ids = IdsOnce()
        self._lost = False  # the process ended: tell once the messages before its end are out
        self._cause = ""
        self._crash = ""  # what the process said it died of, if it could
        # Messages read while waiting for a reply are passed on after the request returns,
        # from the event loop: the caller of request() is often itself inside a slot.
        self._deliver_later = QTimer(self, singleShot=True, interval=0)
        self._deliver_later.timeout.connect(self._deliver)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, network: Network, data: Dataset | None, settings: TrainingSettings,
              generation: int = 0) -> None:
        replies, their_end = CONTEXT.Pipe(duplex=False)
        _widen(replies)
        commands = CONTEXT.Queue()
        process = CONTEXT.Process(target=serve, args=(commands, their_end, network, data, settings,
                                                    generation),
                                  name="training", daemon=True)
        process.start()
        their_end.close()  # the process holds the only writing end: its death reads as end of file
        self._process, self._commands, self._replies = process, commands, replies
        self._ids = IdsOnce()  # the new process sends its first frame's ids
        self._notifier = QSocketNotifier(replies.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_readable)

    def send(self, *command) -> None:
        if self._commands is not None:
            self._commands.put(command)

    def request(self, *command) -> tuple | None:
        """Send a request and wait for the reply of the same name; None if none comes."""
        if self._replies is None:
            return None
        self.send(*command)
        deadline = time.monotonic() + REPLY_SECONDS
        try:
            while self._replies.poll(max(0.0, deadline - time.monotonic())):
                message = self._complete(self._replies.recv())
                if message[0] == command[0]:
                    return message
                self._unread.append(message)
        except (EOFError, OSError):
            self._on_end()
        finally:
            if self._unread or self._lost:
                self._deliver_later.start()
        return None

    def stop(self) -> None:
        """Ask the process to quit and wait for it (briefly: closing a window must not hang)."""
        process = self._process
        if process is None:
            return
        self.send("quit")
        self._close()  # a process blocked sending to us gets a broken pipe and ends
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        process.close()

    # ----- reading ----------------------------------------------------------------------------
    def _on_readable(self) -> None:
        try:
            while self._replies.poll():
                self._unread.append(self._complete(self._replies.recv()))
        except (EOFError, OSError):
            self._on_end()
        self._deliver()

    def _complete(self, message: tuple) -> tuple:
        """A frame with its ids put back (sent once per plan: IdsOnce)."""
        if message[0] in ("progress", "fresh_progress") and message[2] is not None:
            return (*message[:2], self._ids.incoming(message[2]), *message[3:])
        return message

    def _deliver(self) -> None:
        messages, self._unread = self._unread, []
        newest = max((i for i, m in enumerate(messages) if m[0] == "progress"), default=None)
        for i, message in enumerate(messages):
            if message[0] == "crashed":  # its end may be read later, on its own
                self._crash = message[2]
            if message[0] != "progress" or i == newest:
                self.received.emit(message)
        if self._lost:
            self._lost = False
            self.died.emit()

    def death_cause(self) -> str:
        """What the last process that ended died of, in words ('' if it is not known)."""
        return self._cause

    def _on_end(self) -> None:
        process = self._process
        self._close()
        process.join(STOP_SECONDS)  # its pipe closes as it exits: reap it
        if process.is_alive():
            process.kill()
            process.join()
        crashed = [m[2] for m in self._unread if m[0] == "crashed"] or [self._crash]
        self._cause = _cause(process.exitcode, crashed[-1])
        process.close()
        self._lost = True

    def _close(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
        if self._replies is not None:
            self._replies.close()
        if self._commands is not None:
            # Its feeder thread may be stuck writing to a process that is gone: do not wait
            # for it when this process exits.
            self._commands.cancel_join_thread()
            self._commands.close()
        self._process = self._commands = self._replies = self._notifier = None


def _cause(exitcode: int | None, crashed: str) -> str:
    if crashed:
        return crashed
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return "it was killed (SIGKILL; the system may have run out of memory)"
        return f"it was stopped by {name}"
    if exitcode:
        return f"it exited with code {exitcode}"
    return ""


def _widen(pipe) -> None:
    try:
        import fcntl  # POSIX only

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or over the user's pipe allowance: slower, still right
