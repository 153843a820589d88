/**
 * What the suite (inside the extension host) and the outer runner (../run.ts) exchange: the
 * results file, and UI requests — the suite writes `<name>.request` (a UiRequest as JSON) into
 * $SQLMIGRATE_E2E_SIGNALS, the code-server runner drives Chromium and answers with
 * `<name>.done` (a UiResponse). Under @vscode/test-electron there is no runner to answer: UI
 * requests resolve to undefined and the suite checks what it can through the API.
 */
export interface E2eResults {
  passed: number;
  failed: number;
  tests: Array<{ title: string; state: 'passed' | 'failed'; durationMs?: number; error?: string }>;
  /** Lines the runner prints after the tests (activation time, …). */
  notes?: string[];
  finishedAt: string;
}

export interface UiRequest {
  /** Keys pressed first (playwright names: 'F1', 'Escape', 'Control+Shift+P'). */
  keys?: string[];
  /** Text typed after the keys. */
  type?: string;
  /** A CSS selector to wait for (visible) before collecting and taking the screenshot. */
  waitFor?: string;
  /** A CSS selector whose elements' innerText is returned. */
  collect?: string;
  /** Screenshot file name (without .png) under test-artifacts/screenshots/. */
  screenshot?: string;
  /** Keys pressed after the screenshot (e.g. Escape to close a menu). */
  keysAfter?: string[];
  /** Milliseconds to let the workbench paint before collecting (default 700). */
  settleMs?: number;
}

export interface UiResponse {
  texts: string[];
  screenshot?: string;
  error?: string;
}
