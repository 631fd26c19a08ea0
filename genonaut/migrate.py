"""Create or update the database schema; safe to run any number of times.

Run as a one-shot before the API starts: ``python -m genonaut.migrate``.
Each migration runs once, recorded in ``schema_migrations``; a lock keeps two
concurrent runs (two tasks starting at once) from racing.
"""

from __future__ import annotations

import logging
import sys
import time

from genonaut.config_loader import ConfigError, settings

log = logging.getLogger("genonaut.migrate")

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS generation_jobs (
            id uuid PRIMARY KEY,
            prompt text NOT NULL,
            size text NOT NULL,
            status text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
            image_ref text,
            image_sha256 text,
            image_bytes integer,
            error text,
            attempts integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS generation_jobs_status_idx ON generation_jobs (status);
        """,
    ),
]

# Any constant works; it only has to be the same for every migrate run.
_LOCK_KEY = 0x6E6F6E61


def _is_auth_failure(e: Exception) -> bool:
    # 28P01 invalid_password, 28000 invalid_authorization_specification.
    return getattr(e, "sqlstate", None) in ("28P01", "28000") or "authentication failed" in str(e)


def migrate(url: str, connect_attempts: int = 10) -> list[int]:
    import psycopg

    for attempt in range(1, connect_attempts + 1):
        try:
            conn = psycopg.connect(url, connect_timeout=3, autocommit=True)
            break
        except psycopg.OperationalError as e:
            # A wrong password or role will not fix itself: fail now, saying so.
            if attempt == connect_attempts or _is_auth_failure(e):
                raise
            log.warning("database not reachable yet (attempt %d/%d): %s", attempt, connect_attempts, e)
            time.sleep(min(2 * attempt, 5))
    applied: list[int] = []
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in MIGRATIONS:
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        url = settings().database_url
    except ConfigError as e:
        print(f"genonaut.migrate: configuration error: {e}", file=sys.stderr)
        return 2
    try:
        applied = migrate(url)
    except Exception as e:  # report any database failure in one line, then fail the job
        print(f"genonaut.migrate: failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if applied:
        log.info("applied migrations %s", ", ".join(map(str, applied)))
    else:
        log.info("schema is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
