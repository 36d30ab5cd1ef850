"""The `lifeline` command line.

`lifeline worker` exits 0 on SIGTERM or Ctrl-C from its first instant: importing the commands takes
seconds on a loaded machine (SQLModel, FastAPI, Prefect's settings), and a stop requested meanwhile
used to end it with 143 (killed by the signal). Until the worker installs its own handler
(cli/worker_command.py) nothing has started, so there is nothing to stop: the process just ends.
"""

import os
import signal
import sys
import threading


def _exit_at_once(_signum: int, _frame: object) -> None:
    os._exit(0)


if sys.argv[1:2] == ["worker"] and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _exit_at_once)
    signal.signal(signal.SIGINT, _exit_at_once)
