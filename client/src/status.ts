/**
 * The status bar item: "SQL 62% · 81 left" when the server is ready, a spinner while it starts
 * or scans, an error look when it failed. Clicking it opens the "Migration progress" view
 * (or the output, when the server failed).
 */
import * as vscode from 'vscode';
import type { ProgressChangedParams } from '../../server/src/protocol';

export type ClientPhase = 'starting' | 'running' | 'failed' | 'stopped';

export class StatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('sqlmigrate.status', vscode.StatusBarAlignment.Left, 10);
  private phase: ClientPhase = 'starting';
  private last: ProgressChangedParams | undefined;

  constructor() {
    this.item.name = 'sqlmigrate';
    this.render();
    this.item.show();
  }

  setPhase(phase: ClientPhase): void {
    this.phase = phase;
    this.render();
  }

  update(p: ProgressChangedParams): void {
    this.last = p;
    this.render();
  }

  get text(): string {
    return this.item.text;
  }

  private render(): void {
    const i = this.item;
    i.backgroundColor = undefined;
    i.command = 'sqlmigrate.openProgress';
    if (this.phase === 'failed' || this.phase === 'stopped') {
      i.text = '$(error) SQL failed';
      i.tooltip = 'The sqlmigrate language server stopped. Click to see its output; run "sqlmigrate: Restart the language server" to try again.';
      i.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      i.command = 'sqlmigrate.showOutput';
      return;
    }
    const p = this.last;
    if (this.phase === 'starting' || !p || p.state === 'starting') {
      i.text = '$(sync~spin) SQL starting…';
      i.tooltip = 'sqlmigrate: starting the language server';
      return;
    }
    if (p.state === 'scanning') {
      i.text = `$(sync~spin) SQL scanning${p.scan ? ` ${p.scan.done}/${p.scan.total}` : '…'}`;
      i.tooltip = 'sqlmigrate: scanning the workspace for raw SQL';
      return;
    }
    const left = `${p.remaining} left`;
    i.text = p.progress === null ? `$(database) SQL ${left}` : `$(database) SQL ${Math.round(p.progress * 100)}% · ${left}`;
    i.tooltip = new vscode.MarkdownString(
      p.progress === null
        ? `**sqlmigrate**: ${p.remaining} raw statements left, ${p.kept} kept on purpose.\n\nNo baseline yet — record one to measure progress. Click to open the migration progress.`
        : `**sqlmigrate**: ${Math.round(p.progress * 100)}% migrated since the baseline; ${p.remaining} left, ${p.kept} kept on purpose.\n\nClick to open the migration progress.`,
    );
  }

  dispose(): void {
    this.item.dispose();
  }
}
