/**
 * The custom messages between the sqlmigrate client and server, declared once and imported by
 * both (`client/src/*` and `server/src/lsp/*`). Method names are prefixed `sqlmigrate/`.
 * Only plain JSON crosses the wire: URIs as strings, zero-based LSP ranges.
 *
 * Adding a message: declare its params/result types and a namespace with `method` and `type`
 * here; handle it in `server/src/lsp/handlers.ts` (inside `guard`), call it from the client.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { BurndownData } from './history/trend';

/** Client-side commands a client may offer; the server uses them only when the client lists them in `initializationOptions.clientCommands`. */
export const ClientCommands = {
  /** Reveal a file or finding in the "Migration progress" view: args `[uri: string, range?: Range]`. */
  showInProgress: 'sqlmigrate.showInProgress',
  /** Select the reason placeholder of a keep comment just inserted: args `[uri: string, line: number, start: number, end: number]`. */
  selectKeepReason: 'sqlmigrate.selectKeepReason',
} as const;

export type FileStatus = 'not-started' | 'in-progress' | 'done' | 'kept';

export interface RangeJson {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

/** One finding as the tree shows it. */
export interface FindingItem {
  rule: string;
  range: RangeJson;
  kind: string;
  tables: string[];
  complexity: string;
  dynamic: boolean;
  message: string;
  /** The reason when kept on purpose, else null. */
  kept: string | null;
}

export interface FileProgress {
  uri: string;
  /** Relative to the folder, forward slashes. */
  path: string;
  status: FileStatus;
  /** Findings left to migrate (counted rules, not kept). */
  remaining: number;
  kept: number;
  /** Remaining findings in this file when the baseline was recorded (0 when not in it). */
  baseline: number;
  /** 1 − remaining / baseline for this file, or null without a baseline for it. */
  progress: number | null;
  /** Remaining findings per rule. */
  rules: Record<string, number>;
  /** true when the file no longer exists (it was in the baseline). */
  deleted?: boolean;
}

export interface BaselineInfo {
  recordedAt: string;
  commit: string | null;
  /** Statements left to migrate when it was recorded. */
  remaining: number;
  kept: number;
}

export interface FolderProgress {
  uri: string;
  name: string;
  baseline: BaselineInfo | null;
  /** Set when `.sqlmigrate/baseline.json` exists but cannot be used; says why and what to do. */
  baselineError: string | null;
  /** Set when `.sqlmigrate.json` is invalid (defaults are used meanwhile). */
  configError: string | null;
  remaining: number;
  kept: number;
  /** baseline − remaining (may be negative when statements were added). */
  migrated: number;
  /** 1 − remaining / baseline, or null without a baseline. */
  progress: number | null;
  /** From `target.reduction` in `.sqlmigrate.json`. */
  target: { reduction: number; remaining: number; reached: boolean } | null;
  /** Remaining per rule. */
  rules: Record<string, number>;
  filesScanned: number;
  files: FileProgress[];
}

export type ServerState = 'starting' | 'scanning' | 'ready';

export interface ProgressParams {
  /** Leave out the per-file lists (for the status bar). */
  summaryOnly?: boolean;
}

export interface ProgressResult {
  state: ServerState;
  folders: FolderProgress[];
  /** Totals over all folders. */
  remaining: number;
  kept: number;
  progress: number | null;
}

export namespace ProgressRequest {
  export const method = 'sqlmigrate/progress' as const;
  export const type = new RequestType<ProgressParams, ProgressResult, void>(method);
}

export interface ProgressChangedParams {
  state: ServerState;
  remaining: number;
  kept: number;
  progress: number | null;
  /** Files done / total while scanning. */
  scan?: { done: number; total: number };
}

export namespace ProgressChangedNotification {
  export const method = 'sqlmigrate/progressChanged' as const;
  export const type = new NotificationType<ProgressChangedParams>(method);
}

export interface FileFindingsParams {
  uri: string;
}

export namespace FileFindingsRequest {
  export const method = 'sqlmigrate/fileFindings' as const;
  export const type = new RequestType<FileFindingsParams, FindingItem[], void>(method);
}

export interface RecordBaselineParams {
  /** The workspace folder; the first one when absent. */
  folderUri?: string;
  /** Replace an existing (or unreadable) baseline. */
  force?: boolean;
}

export type RecordBaselineResult =
  | { ok: true; file: string; baseline: BaselineInfo }
  | { ok: false; reason: 'exists' | 'corrupt' | 'busy' | 'no-folder' | 'untrusted' | 'error'; message: string; existing?: BaselineInfo };

export namespace RecordBaselineRequest {
  export const method = 'sqlmigrate/recordBaseline' as const;
  export const type = new RequestType<RecordBaselineParams, RecordBaselineResult, void>(method);
}

export namespace RescanRequest {
  export const method = 'sqlmigrate/rescan' as const;
  export const type = new RequestType0<ProgressResult, void>(method);
}

export interface ServerInfo {
  pid: number;
  version: string;
  startedAt: string;
  state: ServerState;
}

export namespace ServerInfoRequest {
  export const method = 'sqlmigrate/serverInfo' as const;
  export const type = new RequestType0<ServerInfo, void>(method);
}

export interface BurndownParams {
  /** The workspace folder (its URI as the client knows it); the first folder when unknown. */
  folderUri: string;
}

export interface BurndownResult {
  data: BurndownData;
  /** What could not be used (unreadable history lines, an unusable baseline or config). */
  warnings: string[];
}

/**
 * `sqlmigrate/burndown`: the burndown of one workspace folder: its history, baseline and target
 * (server/src/history/load.ts), plus a `current` point from the server's index once a scan has
 * finished and the history holds a point (a lone live point is no trend). Read only.
 */
export namespace BurndownRequest {
  export const method = 'sqlmigrate/burndown' as const;
  export const type = new RequestType<BurndownParams, BurndownResult, void>(method);
}

/** What the server accepts in `initializationOptions` (all optional). */
export interface InitializationOptions {
  /** Client-side commands the server may put in code actions (see ClientCommands). */
  clientCommands?: string[];
  /** Settings for clients that do not answer `workspace/configuration` (same shape as the `sqlmigrate` section). */
  settings?: Partial<Settings>;
  /** Tests only: an extra delay after each analysis, to make edits arrive faster than analysis. */
  testAnalysisDelayMs?: number;
  /**
   * Workspace trust (VS Code: `workspace.isTrusted`). Default true. When false the server is
   * read-only: diagnostics, hover and progress only — it writes nothing (no baseline, no history,
   * no result cache), offers no rewrites or other edits, and reads no workspace templates.
   */
  trusted?: boolean;
  /** Where per-file analysis results persist across restarts (e.g. the extension's storage path); same as `--cache-dir`. Ignored when untrusted. */
  cacheDir?: string;
  /** Milliseconds file events are gathered before processing (default 100, at most 5000; the benchmark uses 0). */
  eventBatchMs?: number;
}

export type SeverityName = 'error' | 'warning' | 'information' | 'hint' | 'off';

/** The `sqlmigrate` settings section. */
export interface Settings {
  enable: boolean;
  /** Per rule id, plus `dynamic-sql` (raw SQL assembled at run time) and `kept` (statements kept on purpose). */
  severity: Record<string, SeverityName>;
  /** Milliseconds to wait after the last edit before analysing. */
  debounce: number;
  /** Scan the workspace in the background at start-up. */
  scanOnStartup: boolean;
}

export const DEFAULT_SEVERITY: Record<string, SeverityName> = {
  'raw-sql': 'information',
  'dynamic-sql': 'warning',
  'session-legacy-query': 'information',
  'session-usage': 'information',
  'sync-in-async': 'warning',
  'manual-transaction': 'information',
  'exception-missing-reason': 'warning',
  kept: 'hint',
};

export const DEFAULT_SETTINGS: Settings = {
  enable: true,
  severity: DEFAULT_SEVERITY,
  debounce: 200,
  scanOnStartup: true,
};
