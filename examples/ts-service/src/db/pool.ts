import { Pool } from 'pg';

export const pool = new Pool({ connectionString: process.env.DATABASE_URL });

/** Thin wrapper used across the service: DB.query(sql, params) returns the rows. */
export const DB = {
  async query<T = unknown>(sql: string, params: unknown[] = []): Promise<T[]> {
    const result = await pool.query(sql, params);
    return result.rows as T[];
  },
};
