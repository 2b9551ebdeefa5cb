"""Container health check without curl: exit 0 when /health answers 200, else 1."""

import os
import sys
import urllib.request

PORT = os.environ.get("PORT", "5000")

try:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=3) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except Exception as exc:  # any failure means "not healthy", and the reason goes to the log
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
