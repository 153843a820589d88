/**
 * "sqlmigrate: Show migration burndown": one webview panel per window with the burndown chart
 * of a workspace folder (client/webview/burndown.ts draws the page; ./burndownData.ts gets the
 * data from the server, or reads it locally while the server does not answer the request).
 *
 *  - Opening it again reveals the panel (switching folder when another one is asked for).
 *  - No `retainContextWhenHidden`: a hidden panel's page is rebuilt from its HTML when shown;
 *    it posts `ready` and gets fresh data then. After a window reload the serializer restores
 *    the panel for the folder the page remembered (`setState`).
 *  - A file watcher on the folder's `.sqlmigrate/history.jsonl`, `.sqlmigrate/baseline.json` and
 *    `.sqlmigrate.json` posts new data when they change.
 *  - "Record history from git" on the empty state offers to run the CLI in a terminal (its own
 *    process: the extension host never runs a git walk); in restricted mode it only shows the
 *    command.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { burndownAssets, burndownHtml, newNonce } from '../webview/burndown';
import type { FetchedBurndown } from './burndownData';

export const BURNDOWN_VIEW_TYPE = 'sqlmigrate.burndown';
/** The CLI command the empty state's button offers (`--no`: never install a package to run it). */
export const HISTORY_COMMAND = 'npx --no sqlmigrate history';

/** What the page reported after its last render (`sqlmigrate.burndown.rendered`). */
export interface RenderedPage {
  empty: boolean;
  chartsVisible: boolean;
  title: string;
  summary: string;
  canvases: number;
  inked: number;
  legend: string[];
  folderRows: number;
  points: number;
  button: boolean;
  theme: string;
  /** Content-Security-Policy violations the page saw. */
  violations: string[];
}

export interface BurndownSnapshot {
  open: boolean;
  visible: boolean;
  folder?: string;
  source?: FetchedBurndown['source'];
  points?: number;
  warnings?: string[];
  /** Times data was posted to the page (initial HTML excluded). */
  updates: number;
  /** Times the page said it was (re)loaded. */
  readies: number;
  rendered?: RenderedPage;
  /** What the empty state's button last did. */
  lastCommand?: string;
}

export interface BurndownDeps {
  extensionPath: string;
  fetch(folder: vscode.WorkspaceFolder): Promise<FetchedBurndown>;
  log(line: string): void;
}

export class BurndownPanel implements vscode.Disposable {
  private static current: BurndownPanel | undefined;

  private folder: vscode.WorkspaceFolder;
  private watchers: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: FetchedBurndown | undefined;
  private updates = 0;
  private readies = 0;
  private rendered: RenderedPage | undefined;
  private lastCommand: string | undefined;
  private renderWaiters: Array<() => void> = [];

  /** Opens (or reveals) the panel for `folder`. */
  static async show(deps: BurndownDeps, folder: vscode.WorkspaceFolder): Promise<BurndownPanel> {
    const open = BurndownPanel.current;
    if (open) {
      open.panel.reveal(undefined, false);
      if (open.folder.uri.toString() !== folder.uri.toString()) await open.setFolder(folder);
      return open;
    }
    const assets = burndownAssets(deps.extensionPath);
    const panel = vscode.window.createWebviewPanel(BURNDOWN_VIEW_TYPE, title(folder), vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: assets.roots.map((r) => vscode.Uri.file(r)),
    });
    return BurndownPanel.adopt(deps, panel, folder);
  }

  /** Takes over a panel (a new one, or one VS Code restores after a reload). */
  static async adopt(deps: BurndownDeps, panel: vscode.WebviewPanel, folder: vscode.WorkspaceFolder): Promise<BurndownPanel> {
    BurndownPanel.current?.dispose();
    const assets = burndownAssets(deps.extensionPath);
    panel.webview.options = { enableScripts: true, localResourceRoots: assets.roots.map((r) => vscode.Uri.file(r)) };
    panel.iconPath = vscode.Uri.file(path.join(deps.extensionPath, 'client', 'media', 'sqlmigrate.svg'));
    const p = new BurndownPanel(deps, panel, folder);
    BurndownPanel.current = p;
    await p.setFolder(folder);
    return p;
  }

  static snapshot(): BurndownSnapshot {
    const p = BurndownPanel.current;
    if (!p) return { open: false, visible: false, updates: 0, readies: 0 };
    return {
      open: true,
      visible: p.panel.visible,
      folder: p.folder.uri.toString(),
      source: p.last?.source,
      points: p.last?.data.points.length,
      warnings: p.last?.warnings,
      updates: p.updates,
      readies: p.readies,
      rendered: p.rendered,
      lastCommand: p.lastCommand,
    };
  }

  /** Resolves after the page's next `rendered` report (or after `timeoutMs`). */
  static nextRender(timeoutMs: number): Promise<boolean> {
    const p = BurndownPanel.current;
    if (!p) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      p.renderWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Re-reads the data of the open panel (after the server restarts, for example). */
  static refreshOpen(delayMs = 0): void {
    BurndownPanel.current?.refreshSoon(delayMs);
  }

  static disposeOpen(): void {
    BurndownPanel.current?.dispose();
  }

  private constructor(
    private readonly deps: BurndownDeps,
    private readonly panel: vscode.WebviewPanel,
    folder: vscode.WorkspaceFolder,
  ) {
    this.folder = folder;
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      // Hidden: the page is discarded; when shown it starts from the HTML, so put the latest data there.
      panel.onDidChangeViewState((e) => {
        if (!e.webviewPanel.visible && this.last) this.setHtml();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders((e) => {
        if (e.removed.some((f) => f.uri.toString() === this.folder.uri.toString())) panel.dispose();
      }),
    );
  }

  private async setFolder(folder: vscode.WorkspaceFolder): Promise<void> {
    this.folder = folder;
    this.panel.title = title(folder);
    for (const w of this.watchers) w.dispose();
    // The ledger files of this folder; an edit, a `git pull` or the CLI writing them updates the chart.
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, '{.sqlmigrate/history.jsonl,.sqlmigrate/baseline.json,.sqlmigrate.json}'));
    this.watchers = [w, w.onDidCreate(() => this.refreshSoon()), w.onDidChange(() => this.refreshSoon()), w.onDidDelete(() => this.refreshSoon())];
    this.last = await this.load();
    this.rendered = undefined;
    this.setHtml();
  }

  /** The page with the latest data in it (what a hidden panel shows first when it is shown again). */
  private setHtml(): void {
    const assets = burndownAssets(this.deps.extensionPath);
    const uri = (p: string) => this.panel.webview.asWebviewUri(vscode.Uri.file(p)).toString();
    this.panel.webview.html = burndownHtml({
      cspSource: this.panel.webview.cspSource,
      nonce: newNonce(),
      scriptUris: assets.scripts.map(uri),
      styleUris: assets.styles.map(uri),
      data: this.last?.data ?? null,
      title: this.folder.name,
    });
  }

  private async load(): Promise<FetchedBurndown> {
    const r = await this.deps.fetch(this.folder);
    for (const w of r.warnings) this.deps.log(`[burndown] ${this.folder.name}: ${w}`);
    this.deps.log(`[burndown] ${this.folder.name}: ${r.data.points.length} point(s) (${r.source === 'server' ? 'from the language server' : 'read by the client'})`);
    return r;
  }

  private refreshSoon(delayMs = 250): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.post(), delayMs);
  }

  /** Reads the data again and posts it to the page (which redraws without reloading). */
  private async post(): Promise<void> {
    try {
      this.last = await this.load();
      if (this.disposed) return;
      this.updates++;
      // A hidden page is gone (no retainContextWhenHidden): give it the new data in its HTML.
      if (!this.panel.visible) this.setHtml();
      else await this.panel.webview.postMessage({ type: 'sqlmigrate.burndown', data: this.last.data, folderUri: this.folder.uri.toString() });
    } catch (e) {
      this.deps.log(`[burndown] updating the chart failed: ${(e as Error)?.stack ?? e}`);
    }
  }

  private async onMessage(m: unknown): Promise<void> {
    if (!m || typeof m !== 'object') return;
    const msg = m as { type?: unknown; command?: unknown; page?: unknown };
    if (msg.type === 'sqlmigrate.burndown.ready') {
      this.readies++;
      await this.post();
    } else if (msg.type === 'sqlmigrate.burndown.rendered' && msg.page && typeof msg.page === 'object') {
      this.rendered = msg.page as RenderedPage;
      const waiters = this.renderWaiters;
      this.renderWaiters = [];
      for (const w of waiters) w();
    } else if (msg.type === 'sqlmigrate.burndown.command' && msg.command === 'recordHistory') {
      await this.recordHistory();
    }
  }

  /**
   * Recording the history walks the git history and analyses every commit: minutes on a large
   * repository, and it runs git. It runs in a terminal, never in the extension host; the file
   * watcher updates the chart when it has written the history.
   */
  private async recordHistory(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.lastCommand = 'restricted';
      const choice = await vscode.window.showInformationMessage(
        `sqlmigrate: recording the history runs git, which is off in Restricted Mode. Trust this workspace, or run \`${HISTORY_COMMAND}\` in ${this.folder.name} yourself.`,
        'Copy Command',
      );
      if (choice === 'Copy Command') await vscode.env.clipboard.writeText(HISTORY_COMMAND);
      return;
    }
    this.lastCommand = 'offered';
    const choice = await vscode.window.showInformationMessage(
      `sqlmigrate: record the migration's history from git with \`${HISTORY_COMMAND}\` in ${this.folder.name}. The chart updates when it has finished.`,
      'Run in Terminal',
      'Copy Command',
    );
    if (choice === 'Run in Terminal') {
      const terminal = vscode.window.createTerminal({ name: `sqlmigrate history (${this.folder.name})`, cwd: this.folder.uri });
      terminal.show();
      terminal.sendText(HISTORY_COMMAND);
      this.lastCommand = 'terminal';
    } else if (choice === 'Copy Command') {
      await vscode.env.clipboard.writeText(HISTORY_COMMAND);
      this.lastCommand = 'copied';
    }
  }

  private disposed = false;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (BurndownPanel.current === this) BurndownPanel.current = undefined;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.renderWaiters) w();
    this.renderWaiters = [];
    for (const d of [...this.watchers, ...this.disposables]) d.dispose();
    this.watchers = [];
    this.disposables.length = 0;
    this.panel.dispose();
  }
}

function title(folder: vscode.WorkspaceFolder): string {
  return `Migration burndown — ${folder.name}`;
}

/**
 * Restores the panel after a window reload, for the folder its page remembered (the first
 * folder when that one is no longer open).
 */
export function registerBurndownSerializer(deps: BurndownDeps): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(BURNDOWN_VIEW_TYPE, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
      const folders = vscode.workspace.workspaceFolders ?? [];
      const wanted = state && typeof state === 'object' ? (state as { folderUri?: unknown }).folderUri : undefined;
      const folder = folders.find((f) => f.uri.toString() === wanted) ?? folders[0];
      if (!folder) {
        panel.dispose();
        return;
      }
      await BurndownPanel.adopt(deps, panel, folder);
    },
  });
}
