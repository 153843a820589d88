/**
 * The language server's behaviour, on top of an LSP connection:
 *
 *  - open documents: analysed after a debounce; diagnostics published with the document
 *    version; a result for a version that is no longer current is dropped;
 *  - the workspace: scanned in the background at start-up (LSP work-done progress), kept true
 *    by file events (batched; a burst such as a git checkout triggers one rescan);
 *  - hover, code actions (verified rewrites from ./rewrites.ts, rewrite all / source.fixAll,
 *    keep on purpose, show in progress; edits resolved lazily, stale versions refused);
 *  - workspace trust: `initializationOptions.trusted === false` means read-only (no file writes,
 *    no rewrites, no workspace templates);
 *  - the ledger requests of `../protocol.ts`.
 *
 * Every handler is wrapped in `guard`: an exception is logged, never fatal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CodeAction,
  CodeActionKind,
  CodeActionTriggerKind,
  CreateFile,
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  FileChangeType,
  Range,
  TextDocumentEdit,
  TextDocuments,
  TextDocumentSyncKind,
  TextEdit,
  WatchKind,
  type CodeActionParams,
  type Connection,
  type Diagnostic,
  type FileEvent,
  type Hover,
  type HoverParams,
  type InitializeParams,
  type InitializeResult,
  type WorkspaceEdit,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { analyzeTextSync, initEngine, languageOf } from '../engine/analyze';
import { CONFIG_FILE, DEFAULT_CONFIG, type Config } from '../engine/config';
import { listFiles } from '../engine/scan';
import type { Finding } from '../engine/types';
import { BASELINE_FILE, buildBaseline, countedRules, gitCommit, LedgerError, writeBaseline } from '../ledger';
import { recordBaselinePoint } from '../ledger/cli';
import { pointFromFindings } from '../history/points';
import { loadBurndown } from '../history/load';
import { buildBurndown } from '../history/trend';
import {
  ClientCommands,
  DEFAULT_SETTINGS,
  FileFindingsRequest,
  ProgressChangedNotification,
  ProgressRequest,
  RecordBaselineRequest,
  BurndownRequest,
  type BurndownResult,
  RescanRequest,
  ServerInfoRequest,
  type InitializationOptions,
  type ProgressResult,
  type RecordBaselineResult,
  type ServerState,
  type Settings,
} from '../protocol';
import { Folder } from './folder';
import { describeError, guard, guardVoid } from './guard';
import { hoverFor, keepEdit, SOURCE, toDiagnostic, toFindingItem } from './present';
import { IncrementalAnalyzer } from './incremental';
import { analyseFileCached, FileResultCache } from '../cache';
import { diffEdit, findingKey, fixableFindings, REWRITE_PROVIDERS, RewriteCache, rewriteHover, type FixAllOutcome, type OfferedRewrite, type ProviderSlot, type RewriteProvider, type TextEdit as RewriteEdit } from './rewrites';
import { readSourceFile } from '../engine/scan';
import { parses as tsParses } from '../rewrite/fix';
import { planRepositoryTree } from '../rewrite/fixRepository';
import { initModelGeneration } from '../engine/rewrite/python/model';

const WATCHED_SOURCES = '**/*.{ts,tsx,mts,cts,js,jsx,mjs,cjs,py}';
/** Workspace template overrides (server/src/rewrite/templates.ts): a change drops the folder's rewrite options. */
const WATCHED_TEMPLATES = '**/.sqlmigrate/templates/**';
/** The fix-all kind editors run on save (`editor.codeActionsOnSave: { "source.fixAll.sqlmigrate": "explicit" }`). */
export const FIX_ALL_KIND = `${CodeActionKind.SourceFixAll}.sqlmigrate`;
export const REWRITE_ALL_TITLE = 'Rewrite all verified statements in this file';
/** More file events than this in one batch (a checkout, a branch switch): rescan instead. */
const RESCAN_THRESHOLD = 300;
const EVENT_BATCH_MS = 100;
const PROGRESS_NOTIFY_MS = 250;

interface DocResult {
  version: number;
  findings: Finding[];
  /** Set when only the changed functions were analysed: the engine's findings, to verify at idle. */
  partial?: Finding[];
}

/** A document analysed by units is analysed in full once edits pause this long (see ./incremental.ts). */
const VERIFY_IDLE_MS = 750;

interface KeepActionData {
  uri: string;
  version: number;
  line: number;
  character: number;
  rule: string;
  /** Absent for the keep action. */
  kind?: undefined;
}

interface RewriteActionData {
  uri: string;
  version: number;
  kind: 'rewrite';
  /** The finding (findingKey) and the rewrite's id ('knex', 'knex-raw'). */
  key: string;
  id: string;
}

/** "Move every call site of this statement in the workspace": the finding whose statement it is. */
interface RepositoryWorkspaceActionData {
  uri: string;
  version: number;
  kind: 'repository-workspace';
  key: string;
}

interface FixAllActionData {
  uri: string;
  version: number;
  kind: 'rewrite-all' | 'fix-all';
}

type ActionData = KeepActionData | RewriteActionData | FixAllActionData | RepositoryWorkspaceActionData;

/** Statements are the same when their text is, whitespace aside (the repository's fingerprint then tells the methods apart). */
function sameStatementKey(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

/** A raw-sql finding that can move with others of statement `key`: not kept, not built at run time. */
function isStatement(g: Finding, key: string | undefined): boolean {
  return g.rule === 'raw-sql' && !g.exception && !g.dynamic && !!g.sql && sameStatementKey(g.sql.text) === key;
}

/** Whether an action of `kind` is asked for by a requested kind (LSP kinds are dot-separated hierarchies). */
function kindMatches(kind: string, requested: string): boolean {
  return requested === '' || kind === requested || kind.startsWith(`${requested}.`);
}

const UNTITLED_EXT: Record<string, string> = { typescript: '.ts', typescriptreact: '.tsx', javascript: '.js', javascriptreact: '.jsx', python: '.py' };

export class SqlmigrateServer {
  private readonly documents = new TextDocuments(TextDocument);
  private folders: Folder[] = [];
  private settings: Settings = DEFAULT_SETTINGS;
  private readonly caps = { configuration: false, watchedFilesDynamic: false, codeActionResolve: false, documentChanges: false, createFiles: false, workspaceFolders: false };
  private clientCommands = new Set<string>();
  /** Workspace trust (initializationOptions.trusted): false means read-only — no writes, no rewrites, no workspace templates. */
  private trusted = true;
  private readonly rewrites = new RewriteCache();
  /** Each folder's options per rewrite provider, recomputed when its config object changes or its templates change. */
  private readonly rewriteOptions = new Map<Folder | undefined, Map<RewriteProvider<unknown>, { config: Config; options: unknown }>>();
  private testAnalysisDelayMs = 0;
  /** How long file events are gathered before processing (initializationOptions.eventBatchMs; the benchmark uses 0). */
  private eventBatchMs = EVENT_BATCH_MS;
  private readonly results = new Map<string, DocResult>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly incremental = new IncrementalAnalyzer();
  private readonly verifyTimers = new Map<string, NodeJS.Timeout>();
  private state: ServerState = 'starting';
  private scanProgress: { done: number; total: number } | undefined;
  private pendingEvents: FileEvent[] = [];
  private eventTimer: NodeJS.Timeout | undefined;
  private eventWork: Promise<void> = Promise.resolve();
  private progressTimer: NodeJS.Timeout | undefined;
  private stamp = 0;
  private readonly startedAt = new Date().toISOString();
  /** Counters for tests and logs. */
  readonly stats = { analysed: 0, published: 0, dropped: 0 };

  /** Per-folder result caches (under `cacheDir`: initializationOptions.cacheDir or --cache-dir), reopened when the detect options change. */
  private readonly caches = new Map<Folder, { key: string; cache: FileResultCache }>();

  constructor(private readonly connection: Connection, private readonly options: { cacheDir?: string } = {}) {}

  private cacheFor(folder: Folder): FileResultCache | undefined {
    if (!this.options.cacheDir || !this.trusted) return undefined;
    const key = JSON.stringify(folder.detect);
    const known = this.caches.get(folder);
    if (known?.key === key) return known.cache;
    known?.cache.save();
    const cache = FileResultCache.open(this.options.cacheDir, folder.root, folder.detect);
    this.caches.set(folder, { key, cache });
    return cache;
  }

  private readonly log = {
    error: (m: string) => this.connection.console.error(m),
    info: (m: string) => this.connection.console.info(m),
  };

  listen(): void {
    const c = this.connection;
    const log = this.log;
    c.onInitialize((p) => this.initialize(p));
    c.onInitialized(guardVoid(log, 'initialized', () => this.initialized()));
    c.onDidChangeConfiguration(guardVoid(log, 'didChangeConfiguration', (p) => this.configurationChanged(p.settings)));
    c.onDidChangeWatchedFiles(guardVoid(log, 'didChangeWatchedFiles', (p) => this.queueFileEvents(p.changes)));
    c.onHover(guard(log, 'hover', null, (p) => this.hover(p)));
    c.onCodeAction(guard(log, 'codeAction', [], (p) => this.codeActions(p)));
    c.onCodeActionResolve(guard(log, 'codeActionResolve', undefined as unknown as CodeAction, (a) => this.resolveCodeAction(a)));
    c.onRequest(ProgressRequest.type, guard(log, ProgressRequest.method, this.emptyProgress(), (p) => this.progressResult(!!p?.summaryOnly)));
    c.onRequest(FileFindingsRequest.type, guard(log, FileFindingsRequest.method, [], (p) => this.fileFindings(p.uri)));
    c.onRequest(RecordBaselineRequest.type, guard(log, RecordBaselineRequest.method, { ok: false, reason: 'error', message: 'internal error; see the sqlmigrate output' } as RecordBaselineResult, (p) => this.recordBaseline(p?.folderUri, !!p?.force)));
    c.onRequest(BurndownRequest.type, guard(log, BurndownRequest.method, { data: buildBurndown([]), warnings: ['internal error; see the sqlmigrate output'] } as BurndownResult, (p) => this.burndown(p?.folderUri)));
    c.onRequest(RescanRequest.type, guard(log, RescanRequest.method, this.emptyProgress(), () => this.rescanAll()));
    c.onRequest(ServerInfoRequest.type, guard(log, ServerInfoRequest.method, { pid: process.pid, version: 'unknown', startedAt: this.startedAt, state: this.state }, () => ({ pid: process.pid, version: serverVersion(), startedAt: this.startedAt, state: this.state })));

    this.documents.onDidChangeContent(guardVoid(log, 'didChange', (e) => this.schedule(e.document.uri)));
    this.documents.onDidClose(guardVoid(log, 'didClose', (e) => this.closed(e.document.uri)));
    this.documents.listen(c);
    c.listen();
  }

  // ---------------------------------------------------------------- life cycle

  private initialize(params: InitializeParams): InitializeResult {
    const caps = params.capabilities;
    this.caps.configuration = !!caps.workspace?.configuration;
    this.caps.watchedFilesDynamic = !!caps.workspace?.didChangeWatchedFiles?.dynamicRegistration;
    this.caps.workspaceFolders = !!caps.workspace?.workspaceFolders;
    this.caps.documentChanges = !!caps.workspace?.workspaceEdit?.documentChanges;
    this.caps.createFiles = this.caps.documentChanges && !!caps.workspace?.workspaceEdit?.resourceOperations?.includes('create');
    this.caps.codeActionResolve = !!caps.textDocument?.codeAction?.resolveSupport?.properties.includes('edit');
    const opts = (params.initializationOptions ?? {}) as InitializationOptions;
    this.clientCommands = new Set(opts.clientCommands ?? []);
    this.testAnalysisDelayMs = Math.max(0, Number(opts.testAnalysisDelayMs) || 0);
    this.trusted = opts.trusted !== false;
    const batch = Number(opts.eventBatchMs);
    if (opts.eventBatchMs !== undefined && Number.isFinite(batch) && batch >= 0) this.eventBatchMs = Math.min(batch, 5000);
    const cacheDir = opts.cacheDir;
    if (typeof cacheDir === 'string' && cacheDir && !this.options.cacheDir) this.options.cacheDir = cacheDir;
    if (!this.trusted) this.options.cacheDir = undefined;
    if (opts.settings) this.settings = mergeSettings(opts.settings);

    const folders = params.workspaceFolders?.length
      ? params.workspaceFolders.map((f) => ({ uri: f.uri, name: f.name }))
      : params.rootUri
        ? [{ uri: params.rootUri, name: path.basename(fileURLToPath(params.rootUri)) }]
        : params.rootPath
          ? [{ uri: `file://${params.rootPath}`, name: path.basename(params.rootPath) }]
          : [];
    for (const f of folders) this.addFolder(f.uri, f.name);

    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, FIX_ALL_KIND], resolveProvider: true },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: 'sqlmigrate', version: serverVersion() },
    };
  }

  private addFolder(uri: string, name: string): Folder | undefined {
    let root: string;
    try {
      root = fileURLToPath(uri);
    } catch {
      this.log.error(`workspace folder ${uri} is not on disk; it is not scanned`);
      return undefined;
    }
    const folder = new Folder(root, uri, name);
    this.folders.push(folder);
    this.folders.sort((a, b) => b.root.length - a.root.length);
    return folder;
  }

  private async initialized(): Promise<void> {
    const c = this.connection;
    if (this.caps.configuration) {
      await c.client.register(DidChangeConfigurationNotification.type, { section: 'sqlmigrate' }).catch((e) => this.log.error(`register configuration: ${describeError(e)}`));
      await this.fetchSettings();
    }
    if (this.caps.watchedFilesDynamic) {
      const all = WatchKind.Create | WatchKind.Change | WatchKind.Delete;
      await c.client
        .register(DidChangeWatchedFilesNotification.type, {
          watchers: [{ globPattern: WATCHED_SOURCES, kind: all }, { globPattern: `**/${CONFIG_FILE}`, kind: all }, { globPattern: `**/${BASELINE_FILE}`, kind: all }, { globPattern: WATCHED_TEMPLATES, kind: all }],
        })
        .catch((e) => this.log.error(`register file watchers: ${describeError(e)}`));
    }
    if (this.caps.workspaceFolders) {
      c.workspace.onDidChangeWorkspaceFolders(
        guardVoid(this.log, 'didChangeWorkspaceFolders', async (e) => {
          for (const r of e.removed) {
            for (const f of this.folders) if (f.uri === r.uri) this.rewriteOptions.delete(f);
            this.folders = this.folders.filter((f) => f.uri !== r.uri);
          }
          for (const a of e.added) {
            const folder = this.addFolder(a.uri, a.name);
            if (folder) await this.startFolder(folder);
          }
          this.notifyProgressSoon();
        }),
      );
    }
    await this.engineReady();
    this.log.info(`sqlmigrate server ${serverVersion()} (pid ${process.pid}) serving ${this.folders.map((f) => f.root).join(', ') || 'no folder'}${this.trusted ? '' : ' (untrusted workspace: read-only, no rewrites)'}`);
    await Promise.all(this.folders.map((f) => this.startFolder(f)));
    this.setState('ready');
  }

  private async startFolder(folder: Folder): Promise<void> {
    folder.loadConfig();
    folder.loadBaseline();
    if (folder.configError) this.connection.window.showWarningMessage(`sqlmigrate: invalid ${CONFIG_FILE} in ${folder.name}, using defaults: ${folder.configError}`);
    if (folder.baselineError) this.connection.window.showWarningMessage(`sqlmigrate: ${folder.baselineError}`);
    if (this.settings.scanOnStartup) await this.scan(folder);
  }

  private setState(state: ServerState): void {
    this.state = state;
    this.notifyProgressSoon(true);
  }

  private engineFailure: string | undefined;

  /**
   * Waits for the engine's parsers. If the Python grammar cannot load, say so once and carry on:
   * TypeScript and JavaScript still work, Python files are skipped with a reason by the engine.
   */
  private async engineReady(): Promise<void> {
    try {
      await initEngine();
    } catch (e) {
      if (!this.engineFailure) {
        this.engineFailure = describeError(e);
        this.log.error(`the Python parser could not load; Python files are not analysed: ${this.engineFailure}`);
        this.connection.window.showErrorMessage('sqlmigrate: the Python parser could not load, so Python files are not analysed. See the sqlmigrate output.');
      }
    }
  }

  // ---------------------------------------------------------------- settings

  private async fetchSettings(): Promise<void> {
    if (!this.caps.configuration) return;
    const s = (await this.connection.workspace.getConfiguration({ section: 'sqlmigrate' })) as Partial<Settings> | null;
    this.settings = mergeSettings(s ?? {});
  }

  private async configurationChanged(settings: unknown): Promise<void> {
    if (this.caps.configuration) await this.fetchSettings();
    else if (settings && typeof settings === 'object' && 'sqlmigrate' in settings) this.settings = mergeSettings((settings as { sqlmigrate: Partial<Settings> }).sqlmigrate);
    for (const doc of this.documents.all()) {
      if (this.settings.enable) this.schedule(doc.uri);
      else void this.connection.sendDiagnostics({ uri: doc.uri, diagnostics: [] });
    }
  }

  // ---------------------------------------------------------------- documents

  private folderFor(fsPath: string): { folder: Folder; rel: string } | undefined {
    for (const folder of this.folders) {
      const rel = folder.relOf(fsPath);
      if (rel !== undefined) return { folder, rel };
    }
    return undefined;
  }

  private locate(uri: string, languageId?: string): { fileName: string; fsPath?: string; folder?: Folder; rel?: string } {
    if (uri.startsWith('file:')) {
      const fsPath = fileURLToPath(uri);
      const where = this.folderFor(fsPath);
      return { fileName: fsPath, fsPath, folder: where?.folder, rel: where?.rel };
    }
    return { fileName: `untitled${UNTITLED_EXT[languageId ?? ''] ?? ''}` };
  }

  private schedule(uri: string): void {
    const old = this.timers.get(uri);
    if (old) clearTimeout(old);
    if (!this.settings.enable) return;
    this.timers.set(
      uri,
      setTimeout(guardVoid(this.log, 'analyse', () => this.analyseAndPublish(uri)), this.settings.debounce),
    );
  }

  /** Analyses the current version of a document; returns undefined when the document is gone. */
  private analyseDocument(doc: TextDocument): DocResult {
    const where = this.locate(doc.uri, doc.languageId);
    if (!languageOf(where.fileName)) return { version: doc.version, findings: [] };
    if (where.folder && where.rel !== undefined && !where.folder.rules.isScanned(where.rel)) return { version: doc.version, findings: [] };
    const detect = where.folder?.detect ?? DEFAULT_DETECT;
    const result = this.incremental.analyse(doc.uri, doc.getText(), where.fileName, detect);
    this.stats.analysed++;
    let findings = result.findings;
    if (where.folder && where.rel !== undefined) {
      // A partial analysis re-reads only functions; exports live in the top-level code it keeps.
      if (!result.partial) where.folder.setDriverExports(where.rel, result.driverExports);
      findings = where.folder.withConfigExceptions(where.rel, findings);
      where.folder.setFile(where.rel, findings, ++this.stamp);
      this.notifyProgressSoon();
    }
    const r: DocResult = { version: doc.version, findings, ...(result.partial ? { partial: result.findings } : {}) };
    this.results.set(doc.uri, r);
    return r;
  }

  /** After a partial analysis, checks it against a full one when the edits pause; publishes the full result if they differ. */
  private scheduleVerify(uri: string): void {
    const old = this.verifyTimers.get(uri);
    if (old) clearTimeout(old);
    this.verifyTimers.set(
      uri,
      setTimeout(
        guardVoid(this.log, 'verify', () => {
          this.verifyTimers.delete(uri);
          const doc = this.documents.get(uri);
          const r = this.results.get(uri);
          if (!doc || !r?.partial || r.version !== doc.version || this.timers.has(uri)) return;
          const where = this.locate(doc.uri, doc.languageId);
          const full = this.incremental.verify(uri, doc.getText(), where.fileName, where.folder?.detect ?? DEFAULT_DETECT, r.partial);
          if (!full) return;
          this.log.info(`incremental analysis of ${uri} differed from a full analysis; publishing the full result and analysing this file in full from now on`);
          let findings = full.findings;
          if (where.folder && where.rel !== undefined) {
            findings = where.folder.withConfigExceptions(where.rel, findings);
            where.folder.setFile(where.rel, findings, ++this.stamp);
            this.notifyProgressSoon();
          }
          const fixed = { version: doc.version, findings };
          this.results.set(uri, fixed);
          this.publish(uri, fixed);
        }),
        VERIFY_IDLE_MS,
      ),
    );
  }

  private async analyseAndPublish(uri: string): Promise<void> {
    this.timers.delete(uri);
    const doc = this.documents.get(uri);
    if (!doc) return;
    await this.engineReady();
    const version = doc.version;
    const current = this.documents.get(uri);
    if (!current || current.version !== version) return;
    const r = this.analyseDocument(current);
    if (this.testAnalysisDelayMs) await new Promise((res) => setTimeout(res, this.testAnalysisDelayMs));
    // Let edits that arrived during the analysis be read before deciding the result is current.
    await new Promise((res) => setImmediate(res));
    const now = this.documents.get(uri);
    if (!now || now.version !== r.version) {
      this.stats.dropped++;
      return;
    }
    this.publish(uri, r);
    if (r.partial) this.scheduleVerify(uri);
  }

  private publish(uri: string, r: DocResult): void {
    const diagnostics = r.findings.map((f) => toDiagnostic(f, this.settings)).filter((d): d is Diagnostic => !!d);
    this.stats.published++;
    void this.connection.sendDiagnostics({ uri, version: r.version, diagnostics });
  }

  private closed(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
    this.results.delete(uri);
    this.rewrites.forget(uri);
    this.incremental.forget(uri);
    const v = this.verifyTimers.get(uri);
    if (v) clearTimeout(v);
    this.verifyTimers.delete(uri);
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
    // The buffer may have held unsaved edits: the index goes back to what is on disk.
    if (uri.startsWith('file:')) this.queueFileEvents([{ uri, type: FileChangeType.Changed }]);
  }

  /** Findings for the document's current version (analysed now if the last result is older). */
  private async currentFindings(uri: string): Promise<{ doc: TextDocument; findings: Finding[] } | undefined> {
    const doc = this.documents.get(uri);
    if (!doc) return undefined;
    const cached = this.results.get(uri);
    const findings = cached && cached.version === doc.version ? cached.findings : (await this.engineReady(), this.analyseDocument(doc).findings);
    // Drivers across modules are resolved here, at use time: the module creating the client may have been read after this one.
    const where = this.locate(doc.uri, doc.languageId);
    return { doc, findings: where.folder && where.rel !== undefined ? where.folder.withDrivers(where.rel, findings) : findings };
  }

  // ---------------------------------------------------------------- hover and code actions

  private async hover(p: HoverParams): Promise<Hover | null> {
    const cur = await this.currentFindings(p.textDocument.uri);
    if (!cur) return null;
    const at = cur.findings.filter((f) => contains(f.range, p.position));
    if (!at.length) return null;
    // Innermost first.
    at.sort((a, b) => spanOf(a.range) - spanOf(b.range));
    return { contents: hoverFor(at, (f) => this.rewriteStatus(cur.doc, f, cur.findings)), range: at[0].range };
  }

  // ---------------------------------------------------------------- rewrites

  /** The document's rewrite provider slot, and (trusted, provider available) its options for the document's folder. */
  private rewriteContext(doc: TextDocument): { slot: ProviderSlot; provider?: RewriteProvider<unknown>; options?: unknown; fileName: string; folder?: Folder; rel?: string } | undefined {
    const where = this.locate(doc.uri, doc.languageId);
    const lang = languageOf(where.fileName);
    if (!lang) return undefined;
    const slot = REWRITE_PROVIDERS[lang];
    const ctx = { slot, fileName: where.fileName, folder: where.folder, rel: where.rel };
    if (!this.trusted || !('provider' in slot)) return ctx;
    return { ...ctx, provider: slot.provider, options: this.providerOptions(where.folder, slot.provider) };
  }

  /** A provider's options for a folder (config + workspace templates), computed once per config. Only when trusted. */
  private providerOptions(folder: Folder | undefined, provider: RewriteProvider<unknown>): unknown {
    if (!this.trusted) return undefined;
    const config = folder?.config ?? DEFAULT_CONFIG;
    let byProvider = this.rewriteOptions.get(folder);
    if (!byProvider) this.rewriteOptions.set(folder, (byProvider = new Map()));
    const known = byProvider.get(provider);
    if (known && known.config === config) return known.options;
    let options: unknown;
    try {
      options = provider.options(folder?.root, config, (rel) => this.readWorkspaceFile(folder, rel));
    } catch (e) {
      this.log.error(`${provider.target} rewrite options for ${folder?.name ?? 'files outside a folder'}: ${describeError(e)}`);
      options = undefined;
    }
    byProvider.set(provider, { config, options });
    return options;
  }

  /** The rewrite section of a finding's hover. */
  private rewriteStatus(doc: TextDocument, f: Finding, findings: Finding[]): string[] {
    if (!this.trusted) return rewriteHover(undefined, undefined, 'this workspace is not trusted, so rewrites are off');
    const ctx = this.rewriteContext(doc);
    if (!ctx) return [];
    if (!ctx.provider) return rewriteHover(ctx.slot, undefined);
    if (ctx.options === undefined) return [`_No ${ctx.provider.target} rewrite: its options could not be read; see the sqlmigrate output._`];
    return rewriteHover(ctx.slot, this.rewrites.actions(doc.uri, doc.version, ctx.provider, ctx.options, doc.getText(), ctx.fileName, f, findings, (o) => this.filesFresh(o, ctx.folder)));
  }

  /** Every verified rewrite in the document, repeated until stable (cached per version). */
  private fixAllFor(doc: TextDocument, findings: Finding[]): FixAllOutcome | undefined {
    const ctx = this.rewriteContext(doc);
    if (!ctx?.provider || ctx.options === undefined) return undefined;
    const original = doc.getText();
    const detect = ctx.folder?.detect ?? DEFAULT_DETECT;
    const analyse = (text: string): Finding[] => {
      if (text === original) return findings;
      const r = analyzeTextSync(text, ctx.fileName, detect).findings;
      return ctx.folder && ctx.rel !== undefined ? ctx.folder.withDrivers(ctx.rel, ctx.folder.withConfigExceptions(ctx.rel, r)) : r;
    };
    return this.rewrites.fixAll(doc.uri, doc.version, ctx.provider, ctx.options, original, ctx.fileName, analyse);
  }

  /** A folder file's text: the open document's buffer, else the file on disk (undefined when absent or unreadable). */
  private readWorkspaceFile(folder: Folder | undefined, rel: string): string | undefined {
    if (!folder || rel.split('/').includes('..')) return undefined;
    const open = this.documents.get(folder.uriOf(rel));
    if (open) return open.getText();
    const r = readSourceFile(path.join(folder.root, ...rel.split('/')), folder.config.maxFileSize);
    return 'skip' in r ? undefined : r.text;
  }

  /**
   * The workspace edit of a rewrite: its edits in the document, plus the files it creates or
   * changes (a repository, a model). Those need a client that takes file creation in workspace
   * edits, and each changed file must still read as the rewrite saw it; otherwise undefined.
   */
  private rewriteEdit(doc: TextDocument, o: OfferedRewrite, folder: Folder | undefined): WorkspaceEdit | undefined {
    if (!o.files?.length) return this.documentEdit(doc, o.edits);
    if (!folder || !this.canApply(o) || !this.filesFresh(o, folder)) return undefined;
    const changes = this.fileChanges(folder, o.files);
    if (o.edits.length) changes.push(TextDocumentEdit.create({ uri: doc.uri, version: doc.version }, o.edits.map((e) => TextEdit.replace(e.range, e.newText))));
    return { documentChanges: changes };
  }

  /**
   * Whole-file changes of folder files as documentChanges: a CreateFile and its text for each new
   * file (first), the changed span of each existing one (versioned when open).
   */
  private fileChanges(folder: Folder, files: Array<{ file: string; before: string | undefined; after: string }>): Array<CreateFile | TextDocumentEdit> {
    const created: Array<CreateFile | TextDocumentEdit> = [];
    const edited: TextDocumentEdit[] = [];
    for (const f of files) {
      const uri = folder.uriOf(f.file);
      if (f.before === undefined) {
        created.push(CreateFile.create(uri, { overwrite: false, ignoreIfExists: false }));
        created.push(TextDocumentEdit.create({ uri, version: null }, [TextEdit.insert({ line: 0, character: 0 }, f.after)]));
        continue;
      }
      const e = diffEdit(f.before, f.after);
      if (e) edited.push(TextDocumentEdit.create({ uri, version: this.documents.get(uri)?.version ?? null }, [TextEdit.replace(e.range, e.newText)]));
    }
    return [...created, ...edited];
  }

  /** Whether the client can apply the rewrite's other files: changes need documentChanges, new files resource operations. */
  private canApply(o: OfferedRewrite): boolean {
    if (!o.files?.length) return true;
    return this.caps.documentChanges && (this.caps.createFiles || o.files.every((f) => f.before !== undefined));
  }

  /** Whether every other file of the rewrite still reads as the rewrite saw it. */
  private filesFresh(o: OfferedRewrite, folder: Folder | undefined): boolean {
    return !o.files?.length || (!!folder && o.files.every((f) => this.readWorkspaceFile(folder, f.file) === f.before));
  }

  /** Edits on one document, versioned when the client takes documentChanges. */
  private documentEdit(doc: TextDocument, edits: RewriteEdit[]): WorkspaceEdit {
    const lsp = edits.map((e) => TextEdit.replace(e.range, e.newText));
    return this.caps.documentChanges ? { documentChanges: [TextDocumentEdit.create({ uri: doc.uri, version: doc.version }, lsp)] } : { changes: { [doc.uri]: lsp } };
  }

  private fixAllEdit(doc: TextDocument, outcome: FixAllOutcome): WorkspaceEdit | undefined {
    if (!outcome.applied) return undefined;
    const edits = outcome.singlePassEdits ?? [diffEdit(doc.getText(), outcome.text)].filter((e): e is RewriteEdit => !!e);
    return edits.length ? this.documentEdit(doc, edits) : undefined;
  }

  private async codeActions(p: CodeActionParams): Promise<CodeAction[]> {
    const only = p.context.only;
    const wantQuickFix = !only || only.some((k) => kindMatches(CodeActionKind.QuickFix, k));
    // Source actions only when asked for (on save, the Source Action menu): never in the light bulb.
    const wantFixAll = !!only && only.some((k) => kindMatches(FIX_ALL_KIND, k));
    if (!wantQuickFix && !wantFixAll) return [];
    const cur = await this.currentFindings(p.textDocument.uri);
    if (!cur) return [];
    const { doc, findings } = cur;
    const actions: CodeAction[] = [];
    const base = { uri: doc.uri, version: doc.version };
    const ourDiagnostics = (f: Finding) => p.context.diagnostics.filter((d) => d.source === SOURCE && d.code === f.rule && sameRange(d.range, f.range));
    const ctx = this.trusted ? this.rewriteContext(doc) : undefined;
    const rewriting = ctx?.provider && ctx.options !== undefined ? { provider: ctx.provider, options: ctx.options, fileName: ctx.fileName } : undefined;
    const fixable = rewriting ? fixableFindings(findings, rewriting.provider) : [];

    if (wantQuickFix) {
      const hits = findings.filter((f) => overlaps(f.range, p.range));
      // Verified rewrites first: the builder rewrite is the preferred fix. Computed only for the findings in the range.
      // Moves into other files (repositories, models) only when the menu is asked for, not for the
      // automatic light-bulb request of every cursor move (they cost a full verification each).
      const withMoves = p.context.triggerKind !== CodeActionTriggerKind.Automatic;
      if (rewriting) {
        const rewritable = hits.filter((f) => rewriting.provider.rules.includes(f.rule) && !f.exception);
        let anyVerified = false;
        for (const f of rewritable) {
          const offered = this.rewrites.actions(doc.uri, doc.version, rewriting.provider, rewriting.options, doc.getText(), rewriting.fileName, f, findings, (o) => this.filesFresh(o, ctx?.folder), { withMoves });
          for (const o of offered) {
            if (!o.verified) continue;
            // Rewrites that create or change other files need a client that can apply them.
            if (!this.canApply(o)) continue;
            anyVerified = true;
            const title = rewritable.length > 1 ? `${o.title} (line ${f.range.start.line + 1})` : o.title;
            const action = CodeAction.create(title, CodeActionKind.QuickFix);
            action.diagnostics = ourDiagnostics(f);
            if (o.preferred) action.isPreferred = true;
            action.data = { ...base, kind: 'rewrite', key: findingKey(f), id: o.id } satisfies RewriteActionData;
            if (!this.caps.codeActionResolve) {
              const edit = this.rewriteEdit(doc, o, ctx?.folder);
              if (!edit) continue;
              action.edit = edit;
            }
            actions.push(action);
          }
          const workspaceMove = this.repositoryWorkspaceAction(doc, f, offered, findings, ctx?.folder, ctx?.rel);
          if (workspaceMove) {
            workspaceMove.diagnostics = ourDiagnostics(f);
            actions.push(workspaceMove);
          }
        }
        if (anyVerified && fixable.length > 1) {
          const action = CodeAction.create(REWRITE_ALL_TITLE, CodeActionKind.QuickFix);
          action.data = { ...base, kind: 'rewrite-all' } satisfies FixAllActionData;
          if (!this.caps.codeActionResolve) {
            const edit = this.fixAllEdit(doc, this.fixAllFor(doc, findings)!);
            if (edit) action.edit = edit;
          }
          if (this.caps.codeActionResolve || action.edit) actions.push(action);
        }
      }
      // Editing actions are for trusted workspaces only; "Show in migration progress" only reads.
      const keptLines = new Set<number>();
      for (const f of this.trusted ? hits : []) {
        if (!f.exception && f.rule !== 'exception-missing-reason' && !keptLines.has(f.range.start.line)) {
          keptLines.add(f.range.start.line);
          const action = CodeAction.create('Keep this statement on purpose…', CodeActionKind.QuickFix);
          action.diagnostics = ourDiagnostics(f);
          const data: KeepActionData = { uri: doc.uri, version: doc.version, line: f.range.start.line, character: f.range.start.character, rule: f.rule };
          action.data = data;
          if (!this.caps.codeActionResolve) Object.assign(action, this.keepActionEdit(doc, f));
          actions.push(action);
        }
      }
      if (hits.length && this.clientCommands.has(ClientCommands.showInProgress)) {
        const f = hits[0];
        const action = CodeAction.create('Show in migration progress', { title: 'Show in migration progress', command: ClientCommands.showInProgress, arguments: [doc.uri, f.range] }, CodeActionKind.QuickFix);
        action.diagnostics = p.context.diagnostics.filter((d) => d.source === SOURCE && overlaps(d.range, f.range));
        actions.push(action);
      }
    }

    if (wantFixAll && rewriting && fixable.length) {
      // Computed now (cached per version): offered only when it changes something. On save the
      // editor resolves it at once, so nothing is computed twice.
      const outcome = this.fixAllFor(doc, findings);
      if (outcome?.applied) {
        const action = CodeAction.create(`sqlmigrate: rewrite all verified statements with ${rewriting.provider.target}`, FIX_ALL_KIND);
        action.data = { ...base, kind: 'fix-all' } satisfies FixAllActionData;
        if (!this.caps.codeActionResolve) action.edit = this.fixAllEdit(doc, outcome);
        actions.push(action);
      }
    }
    return actions;
  }

  /** The raw-sql findings with the same statement (whitespace aside) in the folder's other files of the same language family. */
  private sameStatementElsewhere(folder: Folder, rel: string, f: Finding): Array<{ rel: string; count: number }> {
    const sql = f.sql ? sameStatementKey(f.sql.text) : undefined;
    if (!sql) return [];
    const py = /\.py$/i.test(rel);
    const out: Array<{ rel: string; count: number }> = [];
    for (const entry of folder.index.values()) {
      if (entry.rel === rel || /\.py$/i.test(entry.rel) !== py) continue;
      const count = entry.findings.filter((g) => isStatement(g, sql)).length;
      if (count) out.push({ rel: entry.rel, count });
    }
    return out.sort((a, b) => a.rel.localeCompare(b.rel));
  }

  /**
   * When the finding's statement can move to a repository and the same statement is in other
   * files: one action moving every call site in the workspace (resolved by planRepositoryTree over
   * those files). It may create and change several files, so only for clients that take that.
   */
  private repositoryWorkspaceAction(doc: TextDocument, f: Finding, offered: OfferedRewrite[], findings: Finding[], folder: Folder | undefined, rel: string | undefined): CodeAction | undefined {
    if (!folder || !rel || !this.caps.createFiles || !this.caps.codeActionResolve) return undefined;
    if (!offered.some((o) => o.verified && o.label === 'repository')) return undefined;
    const key = f.sql ? sameStatementKey(f.sql.text) : undefined;
    const here = findings.filter((g) => g !== f && isStatement(g, key)).length;
    const elsewhere = this.sameStatementElsewhere(folder, rel, f);
    if (!elsewhere.length && !here) return undefined;
    const total = elsewhere.reduce((n, e) => n + e.count, here + 1);
    const title = elsewhere.length
      ? `Move this statement to the repository at all ${total} call sites (${elsewhere.length + 1} files)`
      : `Move this statement to the repository at all ${total} call sites in this file`;
    const action = CodeAction.create(title, CodeActionKind.QuickFix);
    action.data = { uri: doc.uri, version: doc.version, kind: 'repository-workspace', key: findingKey(f) } satisfies RepositoryWorkspaceActionData;
    return action;
  }

  /** Resolves the every-call-site repository move (this file and others): every changed file, created ones first. */
  private repositoryWorkspaceEdit(f: Finding, folder: Folder, rel: string): WorkspaceEdit | undefined {
    const sql = f.sql ? sameStatementKey(f.sql.text) : undefined;
    if (!sql) return undefined;
    const files = [rel, ...this.sameStatementElsewhere(folder, rel, f).map((e) => e.rel)];
    const { report, changes } = planRepositoryTree(folder.root, folder.config, {
      read: (r) => this.readWorkspaceFile(folder, r),
      parsesTs: tsParses,
      files,
      select: (_r, g) => isStatement(g, sql),
      drivers: folder.drivers,
    });
    if (!report.applied.some((a) => a.file === rel)) {
      const why = report.skipped.find((s) => s.file === rel)?.reason ?? 'it is no longer verified';
      this.connection.window.showWarningMessage(`sqlmigrate: this statement cannot move to a repository now: ${why}`);
      return undefined;
    }
    if (report.skipped.length) {
      const s = report.skipped[0];
      this.connection.window.showInformationMessage(`sqlmigrate: moved ${report.applied.length} call sites; ${report.skipped.length} stay (${s.file}:${s.startLine}: ${s.reason})`);
    }
    return { documentChanges: this.fileChanges(folder, [...changes].map(([file, c]) => ({ file, ...c }))) };
  }

  private keepActionEdit(doc: TextDocument, f: Finding): { edit: WorkspaceEdit; command?: CodeAction['command'] } {
    const lineText = doc.getText(Range.create(f.range.start.line, 0, f.range.start.line + 1, 0)).replace(/\r?\n$/, '');
    const k = keepEdit(f, lineText);
    const insert = TextEdit.insert({ line: k.line, character: 0 }, k.text);
    const edit: WorkspaceEdit = this.caps.documentChanges
      ? { documentChanges: [TextDocumentEdit.create({ uri: doc.uri, version: doc.version }, [insert])] }
      : { changes: { [doc.uri]: [insert] } };
    const command = this.clientCommands.has(ClientCommands.selectKeepReason)
      ? { title: 'Type the reason', command: ClientCommands.selectKeepReason, arguments: [doc.uri, k.line, k.placeholder.start, k.placeholder.end] }
      : undefined;
    return { edit, command };
  }

  private async resolveCodeAction(action: CodeAction): Promise<CodeAction> {
    const data = action.data as ActionData | undefined;
    if (!data || typeof data.uri !== 'string') return action;
    const doc = this.documents.get(data.uri);
    if (!doc || doc.version !== data.version) {
      this.log.info(`refused a stale code action for ${data.uri} (offered for version ${data.version}, document is at ${doc?.version ?? 'closed'})`);
      this.connection.window.showWarningMessage('sqlmigrate: the file changed since this quick fix was offered; run it again.');
      return action;
    }
    if (!this.trusted) {
      this.log.info(`refused a code action in an untrusted workspace: ${action.title}`);
      return action;
    }
    const cur = await this.currentFindings(data.uri);
    if (!cur) return action;
    if (data.kind === 'rewrite') {
      const ctx = this.rewriteContext(doc);
      const f = cur.findings.find((x) => findingKey(x) === data.key);
      if (!f || !ctx?.provider || ctx.options === undefined) return action;
      const o = this.rewrites.actions(doc.uri, doc.version, ctx.provider, ctx.options, doc.getText(), ctx.fileName, f, cur.findings).find((x) => x.id === data.id);
      if (!o?.verified) {
        if (o?.reasonNotOffered) this.connection.window.showWarningMessage(`sqlmigrate: ${action.title} is not applied: ${o.reasonNotOffered}.`);
        return action;
      }
      const edit = this.rewriteEdit(doc, o, ctx.folder);
      if (!edit) {
        this.connection.window.showWarningMessage(`sqlmigrate: ${o.files?.map((f) => f.file).join(', ')} changed since this quick fix was offered; run it again.`);
        return action;
      }
      action.edit = edit;
      return action;
    }
    if (data.kind === 'repository-workspace') {
      const ctx = this.rewriteContext(doc);
      const f = cur.findings.find((x) => findingKey(x) === data.key);
      if (!f || !ctx?.folder || !ctx.rel) return action;
      await initModelGeneration(); // the Python parser reads the folder's models
      if (this.documents.get(data.uri)?.version !== data.version) return action;
      const edit = this.repositoryWorkspaceEdit(f, ctx.folder, ctx.rel);
      if (edit) action.edit = edit;
      return action;
    }
    if (data.kind === 'rewrite-all' || data.kind === 'fix-all') {
      const outcome = this.fixAllFor(doc, cur.findings);
      const edit = outcome && this.fixAllEdit(doc, outcome);
      if (edit) action.edit = edit;
      return action;
    }
    const keep = data as KeepActionData;
    const f = cur.findings.find((x) => x.rule === keep.rule && x.range.start.line === keep.line && x.range.start.character === keep.character);
    if (!f) return action;
    return Object.assign(action, this.keepActionEdit(doc, f));
  }

  // ---------------------------------------------------------------- workspace scan and file events

  private async scan(folder: Folder): Promise<void> {
    const generation = ++folder.scanGeneration;
    const run = this.runScan(folder, generation);
    folder.scanning = run;
    try {
      await run;
    } finally {
      if (folder.scanning === run) folder.scanning = undefined;
    }
  }

  private async runScan(folder: Folder, generation: number): Promise<void> {
    await this.engineReady();
    const started = Date.now();
    const startStamp = ++this.stamp;
    const cache = this.cacheFor(folder);
    const skipped: Array<{ file: string; reason: string }> = [];
    const list = listFiles(folder.root, folder.rules, skipped);
    const reporter = await this.connection.window.createWorkDoneProgress();
    reporter.begin(`sqlmigrate: scanning ${folder.name}`, 0, `${list.length} files`, false);
    this.state = 'scanning';
    this.scanProgress = { done: 0, total: list.length };
    this.notifyProgressSoon(true);
    const touched = new Set<string>();
    let sliceStart = Date.now();
    let lastReport = 0;
    for (let i = 0; i < list.length; i++) {
      if (folder.scanGeneration !== generation) {
        reporter.done();
        return; // a newer scan of this folder took over
      }
      const entry = list[i];
      const existing = folder.index.get(entry.rel);
      if (existing && existing.stamp > startStamp) {
        touched.add(entry.rel); // updated by an edit or a file event during the scan: newer than what we would read
      } else {
        const open = this.documents.get(folder.uriOf(entry.rel));
        if (open) {
          this.analyseDocument(open);
          touched.add(entry.rel);
        } else {
          const a = analyseFileCached(cache, entry.abs, entry.rel, folder.config.maxFileSize, folder.detect);
          if (!('skip' in a)) {
            folder.setDriverExports(entry.rel, a.driverExports);
            folder.setFile(entry.rel, folder.withConfigExceptions(entry.rel, a.findings), startStamp);
            touched.add(entry.rel);
          }
        }
      }
      if (Date.now() - sliceStart > 20) {
        this.scanProgress = { done: i + 1, total: list.length };
        if (Date.now() - lastReport > 200) {
          lastReport = Date.now();
          reporter.report(Math.floor(((i + 1) / Math.max(1, list.length)) * 100), `${i + 1}/${list.length} files`);
          this.notifyProgressSoon();
        }
        await new Promise((res) => setImmediate(res));
        sliceStart = Date.now();
      }
    }
    for (const [rel, e] of [...folder.index]) if (!touched.has(rel) && e.stamp <= startStamp) folder.index.delete(rel);
    if (cache) {
      cache.retain(new Set(list.map((e) => e.rel)));
      cache.save();
    }
    folder.filesScanned = list.length;
    reporter.done();
    this.scanProgress = undefined;
    if (this.folders.every((f) => !f.scanning || f === folder)) this.state = 'ready';
    this.log.info(`scanned ${folder.name}: ${list.length} files in ${Date.now() - started} ms, ${folder.index.size} with findings, ${skipped.length} skipped`);
    this.notifyProgressSoon(true);
  }

  private queueFileEvents(changes: FileEvent[]): void {
    this.pendingEvents.push(...changes);
    if (this.eventTimer) clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(
      guardVoid(this.log, 'fileEvents', () => {
        this.eventTimer = undefined;
        const batch = this.pendingEvents;
        this.pendingEvents = [];
        this.eventWork = this.eventWork.then(() => this.processFileEvents(batch)).catch((e) => this.log.error(`[fileEvents] ${describeError(e)}`));
      }),
      this.eventBatchMs,
    );
  }

  private async processFileEvents(batch: FileEvent[]): Promise<void> {
    await this.engineReady();
    const rescan = new Set<Folder>();
    const byFolder = new Map<Folder, Map<string, FileChangeType>>();
    for (const ev of batch) {
      if (!ev.uri.startsWith('file:')) continue;
      const fsPath = fileURLToPath(ev.uri);
      const where = this.folderFor(fsPath);
      if (!where) continue;
      const { folder, rel } = where;
      if (rel === CONFIG_FILE) {
        rescan.add(folder);
        continue;
      }
      if (rel.startsWith('.sqlmigrate/templates/')) {
        this.rewriteOptions.delete(folder); // templates are read again on the next rewrite
        continue;
      }
      if (rel === BASELINE_FILE) {
        folder.loadBaseline();
        if (folder.baselineError && ev.type !== FileChangeType.Deleted) this.connection.window.showWarningMessage(`sqlmigrate: ${folder.baselineError}`);
        this.notifyProgressSoon();
        continue;
      }
      let m = byFolder.get(folder);
      if (!m) byFolder.set(folder, (m = new Map()));
      m.set(rel, ev.type); // the last event for a path wins
    }
    for (const folder of rescan) {
      folder.loadConfig();
      if (folder.configError) this.connection.window.showWarningMessage(`sqlmigrate: invalid ${CONFIG_FILE} in ${folder.name}, using defaults: ${folder.configError}`);
      for (const doc of this.documents.all()) this.schedule(doc.uri);
    }
    for (const [folder, events] of byFolder) {
      if (rescan.has(folder)) continue;
      if (events.size > RESCAN_THRESHOLD) {
        this.log.info(`${events.size} file events in ${folder.name}: rescanning`);
        rescan.add(folder);
        continue;
      }
      let sliceStart = Date.now();
      for (const [rel, type] of events) {
        const abs = path.join(folder.root, rel);
        const uri = folder.uriOf(rel);
        if (this.documents.get(uri)) continue; // the editor's buffer is the truth for open documents
        let stat: fs.Stats | undefined;
        try {
          stat = type === FileChangeType.Deleted ? undefined : fs.statSync(abs);
        } catch {
          stat = undefined;
        }
        if (!stat) {
          folder.removePath(rel);
        } else if (stat.isDirectory()) {
          rescan.add(folder); // a folder appeared (rename, checkout): walk it properly
          break;
        } else if (folder.rules.isScanned(rel)) {
          const a = analyseFileCached(this.cacheFor(folder), abs, rel, folder.config.maxFileSize, folder.detect);
          folder.setDriverExports(rel, 'skip' in a ? undefined : a.driverExports);
          folder.setFile(rel, 'skip' in a ? [] : folder.withConfigExceptions(rel, a.findings), ++this.stamp);
        } else {
          folder.removePath(rel);
        }
        if (Date.now() - sliceStart > 20) {
          await new Promise((res) => setImmediate(res));
          sliceStart = Date.now();
        }
      }
    }
    for (const folder of rescan) await this.scan(folder);
    for (const folder of byFolder.keys()) this.cacheFor(folder)?.save();
    this.notifyProgressSoon();
  }

  private async rescanAll(): Promise<ProgressResult> {
    await Promise.all(
      this.folders.map(async (f) => {
        f.loadConfig();
        f.loadBaseline();
        await this.scan(f);
      }),
    );
    this.setState('ready');
    return this.progressResult(false);
  }

  // ---------------------------------------------------------------- ledger

  private emptyProgress(): ProgressResult {
    return { state: this.state, folders: [], remaining: 0, kept: 0, progress: null };
  }

  private progressResult(summaryOnly: boolean): ProgressResult {
    const folders = this.folders.map((f) => f.progress(summaryOnly));
    const remaining = folders.reduce((n, f) => n + f.remaining, 0);
    const kept = folders.reduce((n, f) => n + f.kept, 0);
    const withBaseline = folders.filter((f) => f.baseline);
    const base = withBaseline.reduce((n, f) => n + f.baseline!.remaining, 0);
    const left = withBaseline.reduce((n, f) => n + f.remaining, 0);
    const progress = withBaseline.length ? (base === 0 ? (left === 0 ? 1 : 0) : 1 - left / base) : null;
    return { state: this.state, folders, remaining, kept, progress };
  }

  private notifyProgressSoon(immediate = false): void {
    if (this.progressTimer) {
      if (!immediate) return;
      clearTimeout(this.progressTimer);
    }
    this.progressTimer = setTimeout(
      guardVoid(this.log, 'progressChanged', () => {
        this.progressTimer = undefined;
        const p = this.progressResult(true);
        void this.connection.sendNotification(ProgressChangedNotification.type, {
          state: this.state,
          remaining: p.remaining,
          kept: p.kept,
          progress: p.progress,
          ...(this.scanProgress ? { scan: this.scanProgress } : {}),
        });
      }),
      immediate ? 0 : PROGRESS_NOTIFY_MS,
    );
  }

  private async fileFindings(uri: string) {
    const doc = this.documents.get(uri);
    if (doc) return (await this.currentFindings(uri))?.findings.map(toFindingItem) ?? [];
    if (!uri.startsWith('file:')) return [];
    const where = this.folderFor(fileURLToPath(uri));
    return where?.folder.index.get(where.rel)?.findings.map(toFindingItem) ?? [];
  }

  /** The folder's burndown; with a live point from the index when the scan is done and the history holds a point. */
  private burndown(folderUri: string | undefined): BurndownResult {
    const folder = this.folders.find((f) => f.uri === folderUri) ?? this.folders[0];
    if (!folder) return { data: buildBurndown([]), warnings: ['no workspace folder'] };
    const ready = !folder.scanning && this.state !== 'starting';
    return loadBurndown(folder.root, ready ? { live: () => pointFromFindings(folder.ledgerFiles(), { commit: null, source: 'history' }) } : {});
  }

  private async recordBaseline(folderUri: string | undefined, force: boolean): Promise<RecordBaselineResult> {
    const folder = folderUri ? this.folders.find((f) => f.uri === folderUri) : this.folders[this.folders.length - 1];
    if (!folder) return { ok: false, reason: 'no-folder', message: 'Open a folder to record a baseline.' };
    if (!this.trusted) return { ok: false, reason: 'untrusted', message: 'This workspace is not trusted: sqlmigrate writes nothing in it. Trust the workspace to record a baseline.' };
    while (folder.scanning) await folder.scanning;
    await this.eventWork;
    const baseline = buildBaseline(folder.ledgerFiles(), countedRules(folder.config), { commit: gitCommit(folder.root) });
    try {
      const file = writeBaseline(folder.root, baseline, { force });
      recordBaselinePoint(folder.root, () => pointFromFindings(folder.ledgerFiles(), { commit: baseline.commit, date: new Date(baseline.recordedAt), source: 'baseline' }));
      folder.baseline = baseline;
      folder.baselineError = null;
      this.notifyProgressSoon(true);
      return { ok: true, file, baseline: { recordedAt: baseline.recordedAt, commit: baseline.commit, remaining: baseline.remaining, kept: baseline.kept } };
    } catch (e) {
      if (e instanceof LedgerError) {
        const existing = folder.baseline ? { recordedAt: folder.baseline.recordedAt, commit: folder.baseline.commit, remaining: folder.baseline.remaining, kept: folder.baseline.kept } : undefined;
        return { ok: false, reason: e.kind === 'exists' ? 'exists' : e.kind === 'io' ? 'error' : 'corrupt', message: e.message, ...(existing ? { existing } : {}) };
      }
      throw e;
    }
  }
}

const DEFAULT_DETECT = { defaultDialect: 'postgresql' as const, wrappers: [], sessionFactories: ['get_session'] };

function mergeSettings(s: Partial<Settings>): Settings {
  return {
    enable: typeof s.enable === 'boolean' ? s.enable : DEFAULT_SETTINGS.enable,
    severity: { ...DEFAULT_SETTINGS.severity, ...(s.severity && typeof s.severity === 'object' ? s.severity : {}) },
    debounce: typeof s.debounce === 'number' && s.debounce >= 0 ? Math.min(s.debounce, 5000) : DEFAULT_SETTINGS.debounce,
    scanOnStartup: typeof s.scanOnStartup === 'boolean' ? s.scanOnStartup : DEFAULT_SETTINGS.scanOnStartup,
  };
}

type Pos = { line: number; character: number };
type Rng = { start: Pos; end: Pos };

function before(a: Pos, b: Pos): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}
function contains(r: Rng, p: Pos): boolean {
  return !before(p, r.start) && !before(r.end, p);
}
function overlaps(a: Rng, b: Rng): boolean {
  return !before(a.end, b.start) && !before(b.end, a.start);
}
function sameRange(a: Rng, b: Rng): boolean {
  return a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character;
}
function spanOf(r: Rng): number {
  return (r.end.line - r.start.line) * 10_000 + (r.end.character - r.start.character);
}

import { sqlmigrateVersion as serverVersion } from '../version';
export { serverVersion };
