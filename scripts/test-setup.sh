#!/usr/bin/env bash
# What the test tiers need besides node_modules, installed when missing (run by `npm test`, so the
# README's test command does all set-up on a fresh machine; .ci/run calls `npm test`).
#   - Debian packages: python3 (+ SQLAlchemy 1.4, Flask-SQLAlchemy 3, Flask-Login, psycopg2) and Debian's PostgreSQL
#     (a throwaway server per run, test/python/postgres.ts) for the python tier,
#     Chromium for the browser and e2e tiers, MariaDB for the equivalence tier's MySQL dialect,
#     g++/make to build better-sqlite3. Installed with apt-get when running as root; otherwise the
#     missing ones are named and the tiers that need them fail with their own reason.
#   - better-sqlite3's native module: .npmrc skips install scripts and its prebuilt download is
#     unreachable, so it is built from source once.
#   - code-server for the e2e tier (test/e2e/setup.sh; cached under ~/.cache/sqlmigrate).
# Idempotent and quick when everything is there. Never fails the test run itself.
set -uo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
command -v git >/dev/null || need_apt+=(git)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
/usr/bin/python3 -c 'import sqlalchemy, flask_sqlalchemy' 2>/dev/null || need_apt+=(python3 python3-sqlalchemy python3-flask-sqlalchemy)
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || need_apt+=(python3-psycopg2)
/usr/bin/python3 -c 'import flask_login' 2>/dev/null || need_apt+=(python3-flask-login)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
[ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server)
node -e "new (require('better-sqlite3'))(':memory:')" 2>/dev/null || { command -v g++ >/dev/null && command -v make >/dev/null; } || need_apt+=(g++ make)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "apt-get install ${need_apt[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null; } || log "apt-get failed; the tiers that need these packages will say so"
  else
    log "missing Debian packages (install them as root): ${need_apt[*]}"
  fi
fi

if ! node -e "new (require('better-sqlite3'))(':memory:')" 2>/dev/null; then
  log "building better-sqlite3 from source"
  npm rebuild better-sqlite3 --ignore-scripts=false 2>&1 | grep -v 'Unknown user config' | tail -3 >&2 || log "better-sqlite3 build failed; the equivalence tier will report it"
fi

bash test/e2e/setup.sh >/dev/null || log "e2e set-up failed; the e2e tier will report it"
exit 0
