import { Router } from 'express';
import { DB } from '../db/pool';

export const users = Router();

users.get('/users/:id', async (req, res) => {
  const rows = await DB.query('SELECT id, email, display_name FROM users WHERE id = $1', [req.params.id]);
  if (rows.length === 0) {
    res.status(404).json({ message: 'Select a valid user' });
    return;
  }
  res.json(rows[0]);
});

users.delete('/users/:id', async (req, res) => {
  // Soft delete: the row stays for the audit trail.
  await DB.query('UPDATE users SET deleted_at = now() WHERE id = $1', [req.params.id]);
  res.status(204).end();
});

users.get('/users', async (req, res) => {
  const order = req.query.sort === 'email' ? 'email' : 'created_at';
  const rows = await DB.query('SELECT id, email FROM users ORDER BY ' + order + ' LIMIT 100');
  res.json(rows);
});
