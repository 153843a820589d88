import knex from 'knex';

/** The query builder the service is migrating to (sqlmigrate's rewrites call it as `db`). */
export const db = knex({ client: 'pg', connection: process.env.DATABASE_URL });
