/**
 * Worker threads across the cores for scanning many files. Each worker loads the engine and
 * receives batches of paths; it reads, analyses and returns plain results (`FileOutcome`).
 * Batches are handed out as workers finish (two in flight per worker), and the caller puts
 * results back in list order, so a pooled scan reports exactly what a sequential one does.
 *
 * One pool per process, created on first use; idle workers are unref'd so a CLI can exit.
 * No pool (undefined) when worker threads are unavailable (e.g. a bundle without worker.js):
 * the caller then analyses in its own thread.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DetectOptions } from '../types';
import type { FileOutcome } from '../scan';

export interface PoolTask {
  abs: string;
  rel: string;
  /** The content hash the caller already has for this path: unchanged content comes back as `same`. */
  knownHash?: string;
}

export interface BatchRequest {
  id: number;
  detect: DetectOptions;
  maxFileSize: number;
  hash: boolean;
  tasks: PoolTask[];
}

export interface BatchResponse {
  id: number;
  results: FileOutcome[];
}

export type WorkerHello = { type: 'ready' } | { type: 'failed'; message: string };

/** Files per message: big enough to amortise messaging, small enough to balance the cores. */
const BATCH_FILES = 24;
const IN_FLIGHT_PER_WORKER = 2;

/**
 * Default worker count: one less than the cores (the calling thread analyses too), at most 7 —
 * from three cores on. On two cores a worker measured no faster than one thread (`npm run
 * bench`: each worker warms up its own copy of the engine, and V8's compiler and GC threads
 * already use the second core) while costing about 120 MB, so there the default is none.
 * `SQLMIGRATE_WORKERS=n` overrides it (0 turns the pool off).
 */
export function defaultWorkerCount(): number {
  const env = process.env.SQLMIGRATE_WORKERS;
  if (env !== undefined && env !== '' && Number.isFinite(Number(env))) return Math.max(0, Math.floor(Number(env)));
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return cores <= 2 ? 0 : Math.min(7, cores - 1);
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  inFlight: number;
  dead: boolean;
}

export class AnalysisPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: BatchResponse) => void; reject: (e: Error) => void; slot: Slot }>();
  private active = 0;

  private constructor(script: string, size: number) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(script));
  }

  /** Starts `size` workers, or returns undefined when the worker script is not there. */
  static create(size = defaultWorkerCount()): AnalysisPool | undefined {
    if (size < 1) return undefined;
    const script = path.join(__dirname, 'worker.js');
    if (!fs.existsSync(script)) return undefined;
    return new AnalysisPool(script, size);
  }

  get size(): number {
    return this.slots.filter((s) => !s.dead).length;
  }

  private spawn(script: string): Slot {
    const worker = new Worker(script);
    worker.unref();
    const slot: Slot = { worker, ready: Promise.resolve(), inFlight: 0, dead: false };
    slot.ready = new Promise<void>((resolve, reject) => {
      const onHello = (m: WorkerHello | BatchResponse) => {
        if ('type' in m) {
          worker.off('message', onHello);
          if (m.type === 'ready') resolve();
          else reject(new Error(`scan worker failed to start: ${m.message}`));
        }
      };
      worker.on('message', onHello);
      worker.once('error', reject);
    });
    slot.ready.catch(() => undefined);
    worker.on('message', (m: WorkerHello | BatchResponse) => {
      if ('type' in m) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      p.slot.inFlight--;
      p.resolve(m);
    });
    const fail = (e: Error) => {
      slot.dead = true;
      for (const [id, p] of this.pending) {
        if (p.slot !== slot) continue;
        this.pending.delete(id);
        p.reject(e);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`scan worker exited (code ${code})`)));
    return slot;
  }

  /**
   * Analyses every task; `onResult(index, outcome)` is called as results arrive (any order).
   * With `local`, the calling thread takes batches too (between them it yields, so worker
   * messages are read): on two cores, one worker plus this thread load the engine once less.
   * Rejects if a worker dies or cannot start; the caller may then redo the missing indexes itself.
   */
  async run(
    tasks: PoolTask[],
    options: { detect: DetectOptions; maxFileSize: number; hash: boolean },
    onResult: (index: number, outcome: FileOutcome) => void,
    local?: (task: PoolTask) => FileOutcome,
  ): Promise<void> {
    const live = this.slots.filter((s) => !s.dead);
    if (!live.length) throw new Error('no scan worker is running');
    this.ref(+1);
    try {
      let next = 0;
      const take = (): { start: number; batch: PoolTask[] } | undefined => {
        if (next >= tasks.length) return undefined;
        const start = next;
        next = Math.min(tasks.length, next + BATCH_FILES);
        return { start, batch: tasks.slice(start, next) };
      };
      const pump = async (slot: Slot): Promise<void> => {
        await slot.ready;
        for (;;) {
          const job = take();
          if (!job) return;
          const r = await this.send(slot, { id: this.nextId++, detect: options.detect, maxFileSize: options.maxFileSize, hash: options.hash, tasks: job.batch });
          r.results.forEach((outcome, k) => onResult(job.start + k, outcome));
        }
      };
      const here = async (): Promise<void> => {
        for (;;) {
          await new Promise((res) => setImmediate(res));
          const job = take();
          if (!job) return;
          job.batch.forEach((t, k) => onResult(job.start + k, local!(t)));
        }
      };
      const lanes: Promise<void>[] = [];
      for (const slot of live) for (let k = 0; k < IN_FLIGHT_PER_WORKER; k++) lanes.push(pump(slot));
      if (local) lanes.push(here());
      await Promise.all(lanes);
    } finally {
      this.ref(-1);
    }
  }

  private send(slot: Slot, req: BatchRequest): Promise<BatchResponse> {
    if (slot.dead) return Promise.reject(new Error('scan worker is gone'));
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject, slot });
      slot.inFlight++;
      slot.worker.postMessage(req);
    });
  }

  /** Keeps the process alive while a run is active; lets it exit when the pool is idle. */
  private ref(delta: number): void {
    const before = this.active;
    this.active += delta;
    if (before === 0 && this.active > 0) for (const s of this.slots) s.worker.ref();
    if (before > 0 && this.active === 0) for (const s of this.slots) s.worker.unref();
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate().catch(() => 0)));
    for (const s of this.slots) s.dead = true;
  }
}

let shared: AnalysisPool | undefined;
let sharedSize = -1;

/** The process-wide pool of `size` workers (created on first use), or undefined when unavailable. */
export function sharedPool(size = defaultWorkerCount()): AnalysisPool | undefined {
  if (size < 1) return undefined;
  if (shared && (shared.size === 0 || sharedSize !== size)) {
    void shared.close();
    shared = undefined;
  }
  if (!shared) {
    shared = AnalysisPool.create(size);
    sharedSize = size;
  }
  return shared;
}

/** Stops the shared pool's workers (tests, server shutdown). */
export async function closeSharedPool(): Promise<void> {
  const p = shared;
  shared = undefined;
  if (p) await p.close();
}
