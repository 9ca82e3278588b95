/**
 * @module webhook-outbox
 * The room's webhook state in its own SQLite, so eviction or a restart
 * loses nothing: the members the receiver has been told about, events not
 * yet batched (a leave waits out its grace period here), and signed-off
 * batches waiting for delivery or a retry.
 */

export type QueuedEventName = "channel_occupied" | "member_added" | "member_removed";

export interface QueuedEvent {
  seq: number;
  name: QueuedEventName;
  member: string | null;
}

export interface Batch {
  id: number;
  /** The exact JSON body; retries send it unchanged, so its signature holds. */
  body: string;
  createdAt: number;
  attempts: number;
  nextAt: number;
}

export class WebhookOutbox {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS webhook_members (id TEXT PRIMARY KEY)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS webhook_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      member TEXT,
      due_at INTEGER NOT NULL
    )`);
    sql.exec(`CREATE TABLE IF NOT EXISTS webhook_batches (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      body TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at INTEGER NOT NULL
    )`);
  }

  /** Members the receiver has been told are here (added, not yet removed). */
  reported(): string[] {
    return this.#sql
      .exec<{ id: string }>("SELECT id FROM webhook_members")
      .toArray()
      .map((r) => r.id);
  }

  isReported(id: string): boolean {
    return this.#sql.exec("SELECT 1 FROM webhook_members WHERE id = ?", id).toArray().length > 0;
  }

  reportedCount(): number {
    return this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_members").one().n;
  }

  report(id: string): void {
    this.#sql.exec("INSERT OR IGNORE INTO webhook_members (id) VALUES (?)", id);
  }

  unreport(id: string): void {
    this.#sql.exec("DELETE FROM webhook_members WHERE id = ?", id);
  }

  enqueue(name: QueuedEventName, member: string | null, dueAt: number): void {
    this.#sql.exec(
      "INSERT INTO webhook_events (name, member, due_at) VALUES (?, ?, ?)",
      name,
      member,
      dueAt,
    );
  }

  hasPendingRemoval(id: string): boolean {
    return (
      this.#sql
        .exec("SELECT 1 FROM webhook_events WHERE name = 'member_removed' AND member = ?", id)
        .toArray().length > 0
    );
  }

  /** Members whose leave is still in its grace period. */
  pendingRemovals(): string[] {
    return this.#sql
      .exec<{ member: string }>(
        "SELECT member FROM webhook_events WHERE name = 'member_removed' AND member IS NOT NULL",
      )
      .toArray()
      .map((r) => r.member);
  }

  /** Forgets a leave still in its grace period. */
  cancelPendingRemoval(id: string): void {
    this.#sql.exec("DELETE FROM webhook_events WHERE name = 'member_removed' AND member = ?", id);
  }

  /** The oldest events due by `now`, in the order they happened. */
  dueEvents(now: number, limit: number): QueuedEvent[] {
    return this.#sql
      .exec<{ seq: number; name: QueuedEventName; member: string | null }>(
        "SELECT seq, name, member FROM webhook_events WHERE due_at <= ? ORDER BY seq LIMIT ?",
        now,
        limit,
      )
      .toArray();
  }

  deleteEvents(events: QueuedEvent[]): void {
    for (const e of events) this.#sql.exec("DELETE FROM webhook_events WHERE seq = ?", e.seq);
  }

  nextEventDue(): number | null {
    return this.#sql
      .exec<{ at: number | null }>("SELECT MIN(due_at) AS at FROM webhook_events")
      .one().at;
  }

  addBatch(body: string, now: number): void {
    this.#sql.exec(
      "INSERT INTO webhook_batches (body, created_at, next_at) VALUES (?, ?, ?)",
      body,
      now,
      now,
    );
  }

  /** The oldest undelivered batch: batches go out in order, one at a time. */
  headBatch(): Batch | null {
    const [row] = this.#sql
      .exec<{ id: number; body: string; created_at: number; attempts: number; next_at: number }>(
        "SELECT id, body, created_at, attempts, next_at FROM webhook_batches ORDER BY id LIMIT 1",
      )
      .toArray();
    return row
      ? {
          id: row.id,
          body: row.body,
          createdAt: row.created_at,
          attempts: row.attempts,
          nextAt: row.next_at,
        }
      : null;
  }

  deleteBatch(id: number): void {
    this.#sql.exec("DELETE FROM webhook_batches WHERE id = ?", id);
  }

  deferBatch(id: number, attempts: number, nextAt: number): void {
    this.#sql.exec(
      "UPDATE webhook_batches SET attempts = ?, next_at = ? WHERE id = ?",
      attempts,
      nextAt,
      id,
    );
  }

  /** Drops batches created before `before`; returns how many. */
  dropBatchesBefore(before: number): number {
    return this.#sql.exec("DELETE FROM webhook_batches WHERE created_at < ?", before).rowsWritten;
  }
}
