/**
 * A throwaway MariaDB server for the equivalence tier: Debian's `mariadb-server` package
 * (`mariadb-install-db` + `mariadbd`), a fresh data directory under the system temp folder, a
 * unix socket only (no TCP port), no grant tables (nothing but this process can reach the
 * socket's folder), stopped and removed by `stop()`.
 *
 *   const server = await startMariaDb();   // ~3 s: install the system tables, start, wait for the socket
 *   … mysql2.createConnection({ socketPath: server.socket, database: 'equiv' }) …
 *   await server.stop();
 *
 * A server that cannot start is an error (the tier fails; it is never skipped): install it with
 * `apt-get install mariadb-server` (the set-up runs as root with `--user=root`, or as the
 * current user otherwise).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface MariaDbServer {
  socket: string;
  version: string;
  stop(): Promise<void>;
}

function which(names: string[], dirs = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']): string | undefined {
  for (const n of names) for (const d of dirs) if (fs.existsSync(path.join(d, n))) return path.join(d, n);
  return undefined;
}

export async function startMariaDb(): Promise<MariaDbServer> {
  const server = which(['mariadbd', 'mysqld']);
  const install = which(['mariadb-install-db', 'mysql_install_db']);
  if (!server || !install) throw new Error('MariaDB is not installed (mariadbd / mariadb-install-db not found): apt-get install mariadb-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-mariadb-'));
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const user = asRoot ? ['--user=root'] : [];
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  const inst = spawnSync(install, ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'], { encoding: 'utf8', timeout: 120_000 });
  if (inst.status !== 0) {
    cleanup();
    throw new Error(`mariadb-install-db failed (${inst.status ?? inst.signal}): ${(inst.stderr || inst.stdout || '').slice(-800)}`);
  }
  const errLog = path.join(dir, 'error.log');
  const child: ChildProcess = spawn(server, [
    '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, '--skip-networking', ...user, '--skip-grant-tables',
    `--pid-file=${path.join(dir, 'mysqld.pid')}`, `--log-error=${errLog}`, '--innodb-buffer-pool-size=64M',
    '--innodb-flush-log-at-trx-commit=0', '--skip-log-bin', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_bin',
    '--sql-mode=STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY',
  ], { stdio: 'ignore' });
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exited (${code ?? signal})`;
  });
  const log = () => (fs.existsSync(errLog) ? fs.readFileSync(errLog, 'utf8').slice(-800) : '');
  const deadline = Date.now() + 60_000;
  while (!/ready for connections/.test(log())) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      const text = log();
      cleanup();
      throw new Error(`mariadbd did not start (${exited ?? 'timed out'}): ${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const version = /Version: '([^']+)'/.exec(log())?.[1] ?? 'unknown';
  return {
    socket,
    version,
    async stop() {
      if (!exited) {
        const done = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await done;
        clearTimeout(timer);
      }
      cleanup();
    },
  };
}
