/**
 * Every handler runs inside `guard`: a throw (or a rejected promise) becomes a logged error
 * and the handler's fallback result, never a crashed server.
 */
export interface Logger {
  error(message: string): void;
}

export function describeError(e: unknown): string {
  return e instanceof Error ? e.stack ?? e.message : String(e);
}

export function guard<A extends unknown[], R>(log: Logger, name: string, fallback: R, fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (e) {
      log.error(`[${name}] ${describeError(e)}`);
      return fallback;
    }
  };
}

/** For fire-and-forget work (notifications, timers). */
export function guardVoid<A extends unknown[]>(log: Logger, name: string, fn: (...args: A) => unknown): (...args: A) => void {
  return (...args: A) => {
    try {
      const r = fn(...args);
      if (r && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(undefined, (e) => log.error(`[${name}] ${describeError(e)}`));
      }
    } catch (e) {
      log.error(`[${name}] ${describeError(e)}`);
    }
  };
}
