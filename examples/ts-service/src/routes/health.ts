import { Router } from 'express';
import { pool } from '../db/pool';

export const health = Router();

health.get('/healthz', async (_req, res) => {
  // sqlmigrate-keep: the liveness probe checks the connection itself, not the query layer
  await pool.query('SELECT 1');
  res.json({ ok: true });
});
