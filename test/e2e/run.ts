/**
 * The e2e tier: runs the extension in a real VS Code and reports {tier, passed, failed}.
 *
 * Runner: @vscode/test-electron needs to download VS Code, which these machines cannot; when it
 * is not installed the runner uses code-server (VS Code 1.100.3's server and web workbench, from
 * npm) driven by Debian's Chromium through playwright-core, per shared/docs/real-vscode.md:
 *
 *   1. code-server from the cache (test/e2e/setup.sh installs it there when missing),
 *   2. a copy of test/fixtures/workspace-basic in a temporary folder,
 *   3. the built extension copied into a fresh extensions folder (node_modules linked),
 *   4. code-server started with SQLMIGRATE_E2E_RESULTS set, which makes the extension run the
 *      mocha suite in ./suite inside its extension host,
 *   5. Chromium opens the workbench (the extension host starts only when a window connects) and
 *      takes the screenshots the suite asks for (into test-artifacts/screenshots/),
 *   6. the suite's results file becomes the tier's counts.
 *
 * In CI (CI=true) anything that stops VS Code from starting counts as a failure, never a skip.
 *
 *   node out/test/e2e/run.js        # or: npm run test:e2e
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { E2eResults } from './suite/index';

const ROOT = path.join(__dirname, '..', '..', '..');
const CODE_SERVER_VERSION = '4.100.3';
const CACHE = process.env.SQLMIGRATE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'sqlmigrate');
const CODE_SERVER = path.join(CACHE, `code-server-${CODE_SERVER_VERSION}`, 'package');
const CHROMIUM = process.env.SQLMIGRATE_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const SUITE_TIMEOUT_MS = 6 * 60_000;

interface TierResult {
  tier: string;
  passed: number;
  failed: number;
}

const log = (m: string) => process.stderr.write(`[e2e] ${m}\n`);
const inCi = () => /^(1|true|yes)$/i.test(process.env.CI ?? '');

class CannotStart extends Error {}

function testElectronAvailable(): boolean {
  try {
    require.resolve('@vscode/test-electron');
    return true;
  } catch {
    return false;
  }
}

function ensureCodeServer(): string {
  const entry = path.join(CODE_SERVER, 'out', 'node', 'entry.js');
  if (fs.existsSync(path.join(CODE_SERVER, '.sqlmigrate-ready')) && fs.existsSync(entry)) return entry;
  log(`code-server ${CODE_SERVER_VERSION} is not in ${CACHE}; installing it (test/e2e/setup.sh)`);
  const r = spawnSync('bash', [path.join(ROOT, 'test', 'e2e', 'setup.sh')], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 15 * 60_000, encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(entry)) throw new CannotStart(`code-server could not be installed (setup.sh exit ${r.status ?? r.signal})`);
  return entry;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Copies the built extension (manifest, compiled output, media, schemas) and links its node_modules. */
function installExtension(extensionsDir: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
  const dir = path.join(extensionsDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  for (const f of ['README.md', 'LICENSE']) if (fs.existsSync(path.join(ROOT, f))) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  for (const d of ['out/client', 'out/server', 'out/schemas', 'out/test/e2e', 'client/media', 'schemas', 'templates']) {
    if (fs.existsSync(path.join(ROOT, d))) fs.cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

export async function runE2e(): Promise<{ results: E2eResults; screenshots: string[] }> {
  if (testElectronAvailable()) log('@vscode/test-electron is installed, but it downloads VS Code; using code-server, which works offline');
  else log('@vscode/test-electron is not installed (it needs to download VS Code): using code-server + Chromium');
  const entry = ensureCodeServer();
  if (!fs.existsSync(CHROMIUM)) throw new CannotStart(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  if (!fs.existsSync(path.join(ROOT, 'out', 'client', 'src', 'extension.js'))) throw new CannotStart('the extension is not built (npm run build)');
  let chromium: typeof import('playwright-core').chromium;
  try {
    chromium = (require('playwright-core') as typeof import('playwright-core')).chromium;
  } catch (e) {
    throw new CannotStart(`playwright-core is missing: ${(e as Error).message}`);
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-e2e-'));
  const workspace = path.join(tmp, 'workspace');
  fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'workspace-basic'), workspace, { recursive: true });
  const userData = path.join(tmp, 'user-data');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'security.workspace.trust.enabled': false,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'extensions.ignoreRecommendations': true,
      'telemetry.telemetryLevel': 'off',
      'git.enabled': false,
      'typescript.validate.enable': false,
      'javascript.validate.enable': false,
      'typescript.tsserver.experimental.enableProjectDiagnostics': false,
      'editor.hover.delay': 100,
      'window.commandCenter': false,
      'sqlmigrate.debounce': 100,
    }),
  );
  const extensionsDir = path.join(tmp, 'extensions');
  installExtension(extensionsDir);
  const resultsFile = path.join(tmp, 'results.json');
  const signals = path.join(tmp, 'signals');
  fs.mkdirSync(signals);
  fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
  fs.mkdirSync(SCREENSHOTS, { recursive: true });

  const port = await freePort();
  const started = Date.now();
  let server: ChildProcess | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  let serverLog = '';
  const screenshots: string[] = [];
  try {
    server = spawn(
      process.execPath,
      [entry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--user-data-dir', userData, '--extensions-dir', extensionsDir, workspace],
      {
        env: { ...process.env, SQLMIGRATE_E2E_RESULTS: resultsFile, SQLMIGRATE_E2E_SIGNALS: signals },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    server.stdout!.on('data', (d) => (serverLog += String(d)));
    server.stderr!.on('data', (d) => (serverLog += String(d)));
    const exited = new Promise<void>((resolve) => server!.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    await until('code-server to listen', async () => {
      if (gone) throw new CannotStart(`code-server exited at start-up:\n${serverLog.slice(-2000)}`);
      return httpOk(`http://127.0.0.1:${port}/healthz`);
    }, 60_000).catch((e) => {
      throw e instanceof CannotStart ? e : new CannotStart(`${(e as Error).message}\n${serverLog.slice(-2000)}`);
    });
    log(`code-server listening on ${port} after ${Date.now() - started} ms`);

    browser = await chromium
      .launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
      })
      .catch((e: Error) => {
        throw new CannotStart(`Chromium did not start: ${e.message}`);
      });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 90_000 }).catch((e: Error) => {
      throw new CannotStart(`the workbench did not load: ${e.message}`);
    });
    log(`workbench loaded after ${Date.now() - started} ms`);

    const end = Date.now() + SUITE_TIMEOUT_MS;
    const taken = new Set<string>();
    while (!fs.existsSync(resultsFile)) {
      if (Date.now() > end) throw new Error(`the suite did not finish within ${SUITE_TIMEOUT_MS / 60000} minutes`);
      if (gone) throw new Error(`code-server exited during the suite:\n${serverLog.slice(-2000)}`);
      for (const f of fs.readdirSync(signals)) {
        if (!f.endsWith('.request')) continue;
        const name = f.slice(0, -'.request'.length);
        if (taken.has(name)) continue;
        taken.add(name);
        // Let the workbench paint what the suite just did (decorations, hover, tree rows).
        await page.waitForTimeout(700);
        const file = path.join(SCREENSHOTS, `${name}.png`);
        await page.screenshot({ path: file });
        screenshots.push(file);
        fs.writeFileSync(path.join(signals, `${name}.done`), '');
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    const final = path.join(SCREENSHOTS, 'final.png');
    await page.screenshot({ path: final });
    screenshots.push(final);
    const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as E2eResults;
    log(`suite finished after ${Date.now() - started} ms`);
    return { results, screenshots };
  } finally {
    await browser?.close().catch(() => undefined);
    if (server?.pid && server.exitCode === null) {
      try {
        process.kill(-server.pid, 'SIGTERM'); // the process group we started (code-server and its extension host)
      } catch {
        // already gone
      }
    }
    if (!process.env.SQLMIGRATE_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}

export async function runE2eTier(): Promise<TierResult> {
  try {
    const { results, screenshots } = await runE2e();
    for (const t of results.tests) {
      console.log(`  ${t.state === 'passed' ? '✔' : '✘'} ${t.title}${t.durationMs !== undefined ? ` (${t.durationMs} ms)` : ''}`);
      if (t.error) console.log(t.error.split('\n').map((l) => `      ${l}`).join('\n'));
    }
    console.log(`  screenshots: ${screenshots.map((s) => path.relative(ROOT, s)).join(', ')}`);
    return { tier: 'e2e', passed: results.passed, failed: results.failed + (results.passed + results.failed === 0 ? 1 : 0) };
  } catch (e) {
    if (e instanceof CannotStart && !inCi()) {
      log(`SKIPPED: VS Code could not start here (${e.message}). In CI (CI=true) this is a failure.`);
      return { tier: 'e2e', passed: 0, failed: 0 };
    }
    console.log(`  ✘ e2e: ${(e as Error)?.stack ?? e}`);
    return { tier: 'e2e', passed: 0, failed: 1 };
  }
}

if (require.main === module) {
  void runE2eTier().then((r) => {
    console.log(`tier e2e: ${r.passed} passed, ${r.failed} failed`);
    process.exitCode = r.failed > 0 || r.passed === 0 ? 1 : 0;
  });
}
