/**
 * A minimal LSP client for tests and the latency benchmark: spawns the real server over stdio
 * (`node out/server/src/server.js --stdio`), answers the requests a server makes of its client,
 * and records everything the server sends so tests can poll for it.
 *
 *   const s = await startServer({ workspace: dir });
 *   s.open(uri, 'typescript', text);
 *   const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
 *   await s.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import type { ClientCapabilities, InitializeResult, PublishDiagnosticsParams, TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol';
import { ProgressChangedNotification, type InitializationOptions, type ProgressChangedParams, type Settings } from '../../server/src/protocol';

/** The tsc build; SQLMIGRATE_SERVER_JS=dist/server.js drives the bundled server instead. */
export const SERVER_JS = process.env.SQLMIGRATE_SERVER_JS ? path.resolve(process.env.SQLMIGRATE_SERVER_JS) : path.join(__dirname, '..', '..', 'server', 'src', 'server.js');

export const CAPABILITIES: ClientCapabilities = {
  workspace: {
    configuration: true,
    didChangeConfiguration: { dynamicRegistration: true },
    didChangeWatchedFiles: { dynamicRegistration: true },
    workspaceFolders: true,
    workspaceEdit: { documentChanges: true },
  },
  textDocument: {
    synchronization: { dynamicRegistration: false, didSave: true },
    publishDiagnostics: { versionSupport: true, codeDescriptionSupport: true, dataSupport: true },
    hover: { contentFormat: ['markdown', 'plaintext'] },
    codeAction: {
      codeActionLiteralSupport: { codeActionKind: { valueSet: ['', 'quickfix', 'refactor', 'source'] } },
      resolveSupport: { properties: ['edit'] },
      dataSupport: true,
    },
  },
  window: { workDoneProgress: true, showMessage: {} },
};

export interface StartOptions {
  workspace?: string;
  settings?: Partial<Settings>;
  initializationOptions?: InitializationOptions;
  capabilities?: ClientCapabilities;
}

export interface TestServer {
  connection: ProtocolConnection;
  process: ChildProcess;
  /** What the server answered to initialize. */
  initializeResult?: InitializeResult;
  /** Every publishDiagnostics, in arrival order. */
  diagnostics: PublishDiagnosticsParams[];
  progressChanged: ProgressChangedParams[];
  workDone: Array<{ token: string | number; value: { kind: string; title?: string; message?: string; percentage?: number } }>;
  messages: Array<{ type: number; message: string }>;
  logs: string[];
  registrations: Array<{ method: string; registerOptions?: unknown }>;
  settings: Partial<Settings>;
  stderr: string;
  open(uri: string, languageId: string, text: string, version?: number): void;
  change(uri: string, version: number, text: string | TextDocumentContentChangeEvent[]): void;
  close(uri: string): void;
  /** Waits for a publishDiagnostics for uri (the latest matching one) satisfying pred. */
  diagnosticsFor(uri: string, pred?: (p: PublishDiagnosticsParams) => boolean, timeoutMs?: number): Promise<PublishDiagnosticsParams>;
  stop(): Promise<void>;
}

/** Polls until fn returns a truthy value; throws with `what` after timeoutMs. Never sleeps-then-asserts. */
export async function poll<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function fileUri(p: string): string {
  return pathToFileURL(p).toString();
}

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const child = spawn(process.execPath, [...(process.env.SQLMIGRATE_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), SERVER_JS, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const waiters = new Set<{ test: (p: PublishDiagnosticsParams) => boolean; done: (p: PublishDiagnosticsParams) => void }>();
  const s: TestServer = {
    connection,
    process: child,
    diagnostics: [],
    progressChanged: [],
    workDone: [],
    messages: [],
    logs: [],
    registrations: [],
    settings: options.settings ?? {},
    stderr: '',
    open(uri, languageId, text, version = 1) {
      void connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
    },
    change(uri, version, text) {
      const contentChanges = typeof text === 'string' ? [{ text }] : text;
      void connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges });
    },
    close(uri) {
      void connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    },
    diagnosticsFor(uri, pred = () => true, timeoutMs = 20000) {
      const seen = [...s.diagnostics].reverse().find((p) => p.uri === uri && pred(p));
      if (seen) return Promise.resolve(seen);
      // Resolved by the notification itself (precise timing for the latency benchmark), or rejected on timeout.
      return new Promise((resolve, reject) => {
        const waiter = {
          test: (p: PublishDiagnosticsParams) => p.uri === uri && pred(p),
          done: (p: PublishDiagnosticsParams) => {
            clearTimeout(timer);
            resolve(p);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const got = s.diagnostics.filter((p) => p.uri === uri).map((p) => `v${p.version}:${p.diagnostics.length}`);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for diagnostics for ${path.basename(uri)} (received ${got.join(', ') || 'none'})`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async stop() {
      try {
        await Promise.race([connection.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 2000))]);
        void connection.sendNotification('exit');
      } catch {
        // the server may be gone already
      }
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      connection.dispose();
    },
  };
  child.stderr!.on('data', (d) => (s.stderr += String(d)));
  connection.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
    s.diagnostics.push(p);
    for (const w of [...waiters]) {
      if (w.test(p)) {
        waiters.delete(w);
        w.done(p);
      }
    }
  });
  connection.onNotification(ProgressChangedNotification.type, (p) => s.progressChanged.push(p));
  connection.onNotification('window/logMessage', (p: { message: string }) => s.logs.push(p.message));
  connection.onNotification('window/showMessage', (p: { type: number; message: string }) => s.messages.push(p));
  connection.onNotification('$/progress', (p: TestServer['workDone'][number]) => s.workDone.push(p));
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onRequest('client/registerCapability', (p: { registrations: TestServer['registrations'] }) => {
    s.registrations.push(...p.registrations);
    return null;
  });
  connection.onRequest('workspace/configuration', (p: { items: Array<{ section?: string }> }) => p.items.map((i) => (i.section === 'sqlmigrate' ? s.settings : null)));
  connection.onRequest('window/showMessageRequest', (p: { type: number; message: string }) => {
    s.messages.push({ type: p.type, message: p.message });
    return null;
  });
  connection.listen();

  const folder = options.workspace;
  s.initializeResult = await connection.sendRequest<InitializeResult>('initialize', {
    processId: process.pid,
    rootUri: folder ? fileUri(folder) : null,
    workspaceFolders: folder ? [{ uri: fileUri(folder), name: path.basename(folder) }] : null,
    capabilities: options.capabilities ?? CAPABILITIES,
    initializationOptions: options.initializationOptions ?? {},
  });
  void connection.sendNotification('initialized', {});
  return s;
}

/** Waits until the server reports that its start-up scan is over. */
export function waitReady(s: TestServer, timeoutMs = 30000): Promise<ProgressChangedParams> {
  return poll('the server to be ready', () => s.progressChanged.find((p) => p.state === 'ready'), timeoutMs);
}
