from app.db import get_db


def health():
    with get_db() as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        return {"ok": cur.fetchone()[0] == 1}
