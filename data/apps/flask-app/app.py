"""A small message board: the sample app every notebook of the course builds and runs.

Storage is MySQL-compatible when MYSQL_HOST is set (the two-tier app), otherwise in memory.
On start-up it waits for the database instead of crashing: in a two-tier app the web tier often
starts first, and a crash loop teaches nothing.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from flask import Flask, jsonify, redirect, render_template_string, request, url_for

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Message board</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}li{margin:.3em 0}</style>
</head><body>
<h1>Message board</h1>
<p>Served by container <code>{{ host }}</code>, storage: <b>{{ storage }}</b>.</p>
<form method="post" action="{{ url_for('post_message_form') }}">
  <input name="text" maxlength="500" required placeholder="Say something">
  <button type="submit">Post</button>
</form>
<ul>{% for m in messages %}
  <li>{{ m.text }} <small>({{ m.created_at }})</small></li>
{% endfor %}</ul>
</body></html>"""

MAX_TEXT = 500


class MemoryStore:
    """Messages in a list: enough for a single container, lost when it stops."""

    kind = "memory"

    def __init__(self) -> None:
        self._messages: list[dict] = []
        self._lock = threading.Lock()

    def ping(self) -> None:
        return None

    def add(self, text: str) -> dict:
        with self._lock:
            message = {"id": len(self._messages) + 1, "text": text,
                       "created_at": time.strftime("%Y-%m-%d %H:%M:%S")}
            self._messages.append(message)
            return message

    def all(self) -> list[dict]:
        with self._lock:
            return list(self._messages)


def _driver():
    """The C-extension client (mysqlclient) when installed, else the pure-Python PyMySQL."""
    try:
        import MySQLdb

        return MySQLdb
    except ImportError:
        import pymysql

        return pymysql


def _secret(name: str) -> str:
    """A setting from NAME, or from the file NAME_FILE points at (Compose/Swarm secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get(name, "")


class MySQLStore:
    """Messages in a MySQL/MariaDB table, created on first start."""

    kind = "mysql"

    def __init__(self) -> None:
        self.settings = dict(
            host=os.environ["MYSQL_HOST"], port=int(os.environ.get("MYSQL_PORT", "3306")),
            user=_secret("MYSQL_USER") or "root", password=_secret("MYSQL_PASSWORD"),
            database=_secret("MYSQL_DATABASE") or "messages", connect_timeout=3)
        if _driver().__name__ == "MySQLdb":
            self.settings["passwd"] = self.settings.pop("password")
            self.settings["db"] = self.settings.pop("database")

    def _connect(self):
        return _driver().connect(**self.settings, charset="utf8mb4", autocommit=True)

    def wait_until_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.create_table()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"database not ready after {seconds:.0f} s: {exc}") from exc
                print(f"waiting for database at {self.settings['host']}: {exc}", flush=True)
                time.sleep(2)

    def create_table(self) -> None:
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS messages ("
                " id INT AUTO_INCREMENT PRIMARY KEY,"
                " text VARCHAR(500) NOT NULL,"
                " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")

    def ping(self) -> None:
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def add(self, text: str) -> dict:
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute("INSERT INTO messages (text) VALUES (%s)", (text,))
            new_id = cursor.lastrowid
            cursor.execute("SELECT id, text, created_at FROM messages WHERE id = %s", (new_id,))
            return _row(cursor.fetchone())

    def all(self) -> list[dict]:
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT id, text, created_at FROM messages ORDER BY id")
            return [_row(row) for row in cursor.fetchall()]


def _row(row) -> dict:
    return {"id": row[0], "text": row[1], "created_at": str(row[2])}


def create_app(store=None) -> Flask:
    """Build the app; the store is chosen from the environment unless one is given."""
    if store is None:
        if os.environ.get("MYSQL_HOST"):
            store = MySQLStore()
            store.wait_until_ready(float(os.environ.get("DB_WAIT_SECONDS", "60")))
        else:
            store = MemoryStore()
    app = Flask(__name__)

    def clean_text(raw) -> str | None:
        text = (raw or "").strip() if isinstance(raw, str) else ""
        return text[:MAX_TEXT] if text else None

    @app.get("/")
    def index():
        return render_template_string(PAGE, messages=store.all(), storage=store.kind,
                                      host=socket.gethostname())

    @app.post("/")
    def post_message_form():
        text = clean_text(request.form.get("text"))
        if text:
            store.add(text)
        return redirect(url_for("index"))

    @app.get("/health")
    def health():
        try:
            store.ping()
        except Exception as exc:
            return jsonify(status="unhealthy", storage=store.kind, error=str(exc)), 503
        return jsonify(status="ok", storage=store.kind)

    @app.get("/api/messages")
    def list_messages():
        return jsonify(store.all())

    @app.post("/api/messages")
    def post_message():
        payload = request.get_json(silent=True) or {}
        text = clean_text(payload.get("text"))
        if text is None:
            return jsonify(error="send JSON like {\"text\": \"hello\"}"), 400
        return jsonify(store.add(text)), 201

    return app


if os.environ.get("MESSAGE_BOARD_NO_APP") != "1":
    app = create_app()
