import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server of this machine (trust auth); override with KEYWARD_TEST_PG. */
export const PG_ADMIN_URL = process.env.KEYWARD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether PostgreSQL answers. Without CI a missing server skips the tests that need it; with
 * CI=true it is a failure (services.ts has the same rule for tools).
 */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (e) {
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI but ${PG_ADMIN_URL} does not answer: ${(e as Error).message}`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops the database, disconnecting whoever is still on it. */
  drop(): Promise<void>;
}

/** Creates a database with a unique name for one test (or one file); drop() removes it. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `keyward_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => { await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); },
  };
}

/** Runs one statement as the admin on the maintenance database. */
export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** Runs one statement on a test database. */
export async function dbQuery(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}
