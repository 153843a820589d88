/**
 * A throwaway PostgreSQL server for the python tier: Debian's PostgreSQL (apt-get install
 * postgresql; the newest /usr/lib/postgresql/<n>/bin), a data directory and a unix socket in a
 * fresh temporary directory, no TCP, trust authentication, one database per run. As root the
 * server runs as the `postgres` user (PostgreSQL refuses to run as root). stop() stops it and
 * deletes the directory.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface PostgresServer {
  /** libpq DSN (`host=<socket dir> port=… dbname=… user=postgres`). */
  dsn: string;
  dbname: string;
  stop(): void;
}

/** The newest installed server's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

function run(cmd: string, args: string[], asPostgres: boolean): SpawnSyncReturns<string> {
  const full = asPostgres ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] as const : [cmd, args] as const;
  const r = spawnSync(full[0], [...full[1]], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).slice(-2000)}`);
  return r;
}

export function startPostgres(): PostgresServer {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/<n>/bin/initdb): apt-get install postgresql');
  const asPostgres = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-pg-'));
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'socket');
  fs.mkdirSync(socket);
  if (asPostgres) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('running as root, but there is no `postgres` user to run the server as');
    fs.chownSync(dir, uid, gid);
    fs.chownSync(socket, uid, gid);
  }
  const port = 5432;
  let started = false;
  const stop = () => {
    try {
      if (started) run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], asPostgres);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], asPostgres);
    const opts = `-c listen_addresses='' -k ${socket} -p ${port} -c fsync=off -c full_page_writes=off`;
    run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'server.log'), '-o', opts, '-w', '-t', '60', 'start'], asPostgres);
    started = true;
    const dbname = `sqlm_${process.pid}`;
    run(path.join(bin, 'createdb'), ['-h', socket, '-p', String(port), '-U', 'postgres', dbname], asPostgres);
    return { dsn: `host=${socket} port=${port} dbname=${dbname} user=postgres`, dbname, stop };
  } catch (e) {
    stop();
    throw e;
  }
}
