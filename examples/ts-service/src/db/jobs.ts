import { pool } from './pool';

export interface Job {
  id: number;
  name: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  attempts: number;
}

const JOB_COLUMNS = 'id, name, status, attempts, created_at';

export async function getJob(id: number): Promise<Job | undefined> {
  const { rows } = await pool.query(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]);
  return rows[0];
}

export async function listJobs(status: string, limit = 50): Promise<Job[]> {
  const res = await pool.query(
    `SELECT id, name, status, attempts
       FROM jobs
      WHERE status = $1
      ORDER BY created_at DESC
      LIMIT $2`,
    [status, limit],
  );
  return res.rows;
}

export async function createJob(name: string): Promise<number> {
  const res = await pool.query({
    text: 'INSERT INTO jobs (name, status, attempts) VALUES ($1, $2, 0) RETURNING id',
    values: [name, 'pending'],
  });
  return res.rows[0].id;
}

export async function markRunning(id: number): Promise<void> {
  await pool.query('UPDATE jobs SET status = $1, attempts = attempts + 1, updated_at = now() WHERE id = $2', ['running', id]);
}

export async function deleteFinished(olderThanDays: number): Promise<number> {
  const res = await pool.query("DELETE FROM jobs WHERE status = 'done' AND updated_at < now() - make_interval(days => $1)", [olderThanDays]);
  return res.rowCount ?? 0;
}

export async function searchJobs(column: string, term: string): Promise<Job[]> {
  // Column names cannot be bound; this one comes from a query-string parameter.
  const { rows } = await pool.query(`SELECT * FROM jobs WHERE ${column} ILIKE $1`, [`%${term}%`]);
  return rows;
}

export async function jobStats(): Promise<Array<{ status: string; n: number }>> {
  const { rows } = await pool.query(`
    SELECT j.status, count(*) AS n, max(r.finished_at) AS last_run
      FROM jobs j
      LEFT JOIN job_runs r ON r.job_id = j.id
     GROUP BY j.status`);
  return rows;
}

export async function retryFailed(): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("UPDATE jobs SET status = 'pending' WHERE status = 'failed' AND attempts < 5");
    await client.query("INSERT INTO job_events (kind, created_at) VALUES ('retry', now())");
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}
