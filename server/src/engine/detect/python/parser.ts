/**
 * Loading tree-sitter (web-tree-sitter + the Python grammar, both WebAssembly) once per process.
 *
 * The wasm files are found through `pythonWasmPaths()`, the one place that knows where they live,
 * so a bundled build (esbuild) can ship them in a folder of its own and point there with
 * `initPython({ wasmDir })` or the `SQLMIGRATE_WASM_DIR` environment variable.
 */
import * as path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';

export interface PythonWasmPaths {
  /** web-tree-sitter's runtime: `web-tree-sitter.wasm`. */
  runtime: string;
  /** The Python grammar: `tree-sitter-python.wasm`. */
  python: string;
}

/**
 * Where the two wasm files are: in `wasmDir` (or `$SQLMIGRATE_WASM_DIR`) when given, next to the
 * installed packages otherwise.
 */
export function pythonWasmPaths(wasmDir?: string): PythonWasmPaths {
  const dir = wasmDir || process.env.SQLMIGRATE_WASM_DIR;
  if (dir) {
    return { runtime: path.join(dir, 'web-tree-sitter.wasm'), python: path.join(dir, 'tree-sitter-python.wasm') };
  }
  return {
    runtime: require.resolve('web-tree-sitter/web-tree-sitter.wasm'),
    python: require.resolve('tree-sitter-python/tree-sitter-python.wasm'),
  };
}

export interface LoadedPython {
  parser: Parser;
  language: Language;
}

let loading: Promise<LoadedPython> | undefined;
let loaded: LoadedPython | undefined;

/** Loads the runtime and the grammar; later calls return the same promise. A failed load may be retried. */
export function loadPython(opts?: { wasmDir?: string }): Promise<LoadedPython> {
  if (!loading) {
    loading = (async () => {
      const paths = pythonWasmPaths(opts?.wasmDir);
      await Parser.init({
        locateFile: (name: string) => (name === 'web-tree-sitter.wasm' ? paths.runtime : path.join(path.dirname(paths.runtime), name)),
      });
      const language = await Language.load(paths.python);
      const parser = new Parser();
      parser.setLanguage(language);
      loaded = { parser, language };
      return loaded;
    })();
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}

/** The loaded parser, or undefined when `initPython()` has not completed. */
export function loadedPython(): LoadedPython | undefined {
  return loaded;
}

/**
 * Parses `text`, never throwing: a crash inside the wasm module (stack exhaustion on hostile
 * nesting) leaves that Parser unusable, so it is replaced by a fresh one.
 */
export function parseSafely(text: string): { tree: import('web-tree-sitter').Tree | null; error?: string } {
  const l = loaded;
  if (!l) return { tree: null, error: 'the Python parser is not loaded' };
  try {
    return { tree: l.parser.parse(text) };
  } catch (e) {
    try {
      l.parser.delete();
    } catch {
      // already broken
    }
    const parser = new Parser();
    parser.setLanguage(l.language);
    l.parser = parser;
    return { tree: null, error: e instanceof Error ? e.message : String(e) };
  }
}
