/**
 * @module idempotency-store
 * Remembers the answer to each injected request by its Idempotency-Key, so a
 * script that retries after a timeout gets the first answer back instead of
 * posting the message twice. Keys live in the room's own SQLite.
 */
import { tableExists } from "../sql-tables";

/** How long a key is remembered. Retries come within seconds; a day is generous. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface Remembered {
  fingerprint: string;
  result: string;
}

export class IdempotencyStore {
  #sql: SqlStorage;
  #exists: boolean;
  #onCreate: () => void;

  /** `onCreate` runs when the first remembered answer creates the table. */
  constructor(sql: SqlStorage, onCreate: () => void = () => {}) {
    this.#sql = sql;
    this.#onCreate = onCreate;
    this.#exists = tableExists(sql, "idempotency_keys");
  }

  /** Created by the first write, so a room never posted to with a key keeps no table. */
  #ensureTable(): void {
    if (this.#exists) return;
    const sql = this.#sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS idempotency_keys (
      key TEXT PRIMARY KEY,
      fingerprint TEXT NOT NULL,
      result TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`);
    sql.exec(
      "CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at)",
    );
    this.#exists = true;
    this.#onCreate();
  }

  /** The remembered answer for `key`, if it is still inside the window. */
  get(key: string, now: number): Remembered | null {
    if (!this.#exists) return null;
    const rows = this.#sql
      .exec<{ fingerprint: string; result: string }>(
        "SELECT fingerprint, result FROM idempotency_keys WHERE key = ? AND created_at > ?",
        key,
        now - IDEMPOTENCY_WINDOW_MS,
      )
      .toArray();
    return rows[0] ?? null;
  }

  /** Forgets every key that left the window (the room's alarm calls this). */
  purgeExpired(now: number): void {
    if (!this.#exists) return;
    this.#sql.exec(
      "DELETE FROM idempotency_keys WHERE created_at <= ?",
      now - IDEMPOTENCY_WINDOW_MS,
    );
  }

  /** Remembers an answer and forgets the ones that left the window. */
  put(key: string, fingerprint: string, result: string, now: number): void {
    this.#ensureTable();
    this.#sql.exec(
      "DELETE FROM idempotency_keys WHERE created_at <= ?",
      now - IDEMPOTENCY_WINDOW_MS,
    );
    this.#sql.exec(
      "INSERT OR REPLACE INTO idempotency_keys (key, fingerprint, result, created_at) VALUES (?, ?, ?, ?)",
      key,
      fingerprint,
      result,
      now,
    );
  }
}
