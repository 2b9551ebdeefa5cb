"""A long-running app that shuts down cleanly on SIGTERM, as a good container main process does."""

import os
import signal
import sys
import time

NAME = sys.argv[1] if len(sys.argv) > 1 else "app"


def shut_down(signum, frame):
    print(f"{NAME}: got {signal.Signals(signum).name}, shutting down", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, shut_down)
print(f"{NAME}: running as PID {os.getpid()}", flush=True)
while True:
    time.sleep(1)
