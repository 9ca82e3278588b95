/**
 * @module webhook-outbox
 * The room's webhook state in its own SQLite, so eviction or a restart
 * loses nothing: the members the receiver may believe present, events not
 * yet batched (a leave waits out its grace period here), and batches
 * waiting for delivery or a retry. The tables are made by the first queued
 * event: a room that never has one keeps no webhook storage.
 */

export type QueuedEventName =
  | "channel_occupied"
  | "member_added"
  | "member_removed"
  | "client_event"
  | "resync";

export type QueuedEvent = {
  seq: number;
  name: QueuedEventName;
  member: string | null;
  /** A message event's chat frame; a resync's level (how many in a row). */
  data: string | null;
  messageId: number | null;
};

/** What a delivered membership batch tells the receiver; applied to `told` on delivery. */
export interface BatchEffects {
  added: string[];
  removed: string[];
  /** Set on the batches of a resync: how many resyncs in a row, for backoff. */
  resync?: number;
}

export interface Batch {
  id: number;
  /** The events as a JSON array; each attempt wraps them with its own time_ms. */
  events: string;
  createdAt: number;
  attempts: number;
  nextAt: number;
  /** Membership effects; null for a message batch or one made before effects were kept. */
  effects: BatchEffects | null;
  /** How many message events the batch carries (0: a membership batch). */
  messages: number;
}

type BatchRow = {
  id: number;
  body: string;
  created_at: number;
  attempts: number;
  next_at: number;
  effects: string | null;
  messages: number;
};

const BATCH_COLUMNS = "id, body, created_at, attempts, next_at, effects, messages";

/** Columns added after the first version; a room that has the tables gets them on its next start. */
const ADDED_COLUMNS: [table: string, name: string, definition: string][] = [
  ["webhook_events", "data", "TEXT"],
  ["webhook_events", "message_id", "INTEGER"],
  ["webhook_batches", "effects", "TEXT"],
  ["webhook_batches", "messages", "INTEGER NOT NULL DEFAULT 0"],
];

export class WebhookOutbox {
  #sql: SqlStorage;
  #ready: boolean;
  /** The tables came from a version that marked members reported when queued. */
  #upgraded = false;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    // Reading the schema writes nothing: a room without webhook events stays empty.
    this.#ready =
      sql
        .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'webhook_events'")
        .toArray().length > 0;
    if (this.#ready) this.#migrate();
  }

  /** True once, for a room whose tables predate delivery-based reporting: it owes a resync. */
  takeUpgraded(): boolean {
    const upgraded = this.#upgraded;
    this.#upgraded = false;
    return upgraded;
  }

  #create(): void {
    if (this.#ready) return;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS webhook_members (id TEXT PRIMARY KEY)`);
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS webhook_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      member TEXT,
      due_at INTEGER NOT NULL
    )`);
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS webhook_batches (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      body TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at INTEGER NOT NULL
    )`);
    this.#ready = true;
    this.#migrate();
    this.#upgraded = false;
  }

  #migrate(): void {
    for (const [table, name, definition] of ADDED_COLUMNS) {
      const columns = this.#sql
        .exec<{ name: string }>(`PRAGMA table_info(${table})`)
        .toArray()
        .map((c) => c.name);
      if (columns.includes(name)) continue;
      this.#sql.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${definition}`);
      if (name === "effects") this.#upgraded = true;
    }
    // Joins and leaves look a member's queued event up; the alarm looks for due ones.
    this.#sql.exec("CREATE INDEX IF NOT EXISTS webhook_events_member ON webhook_events (member)");
    this.#sql.exec("CREATE INDEX IF NOT EXISTS webhook_events_due ON webhook_events (due_at)");
  }

  /** Members the receiver may believe present: told by a delivered (or dropped) batch, not yet removed by a delivered one. */
  told(): string[] {
    if (!this.#ready) return [];
    return this.#sql
      .exec<{ id: string }>("SELECT id FROM webhook_members")
      .toArray()
      .map((r) => r.id);
  }

  /** Applies what a batch told the receiver to the `told` set. */
  tell(added: string[], removed: string[]): void {
    for (const id of added)
      this.#sql.exec("INSERT OR IGNORE INTO webhook_members (id) VALUES (?)", id);
    for (const id of removed) this.#sql.exec("DELETE FROM webhook_members WHERE id = ?", id);
  }

  enqueue(
    name: QueuedEventName,
    member: string | null,
    dueAt: number,
    data: string | null = null,
    messageId: number | null = null,
  ): void {
    this.#create();
    this.#sql.exec(
      "INSERT INTO webhook_events (name, member, due_at, data, message_id) VALUES (?, ?, ?, ?, ?)",
      name,
      member,
      dueAt,
      data,
      messageId,
    );
  }

  /** Forgets a member's queued event of kind `name` (an add or a leave still waiting). */
  cancel(name: "member_added" | "member_removed", member: string): void {
    if (!this.#ready) return;
    this.#sql.exec("DELETE FROM webhook_events WHERE member = ? AND name = ?", member, name);
  }

  /** Every queued event, oldest first: what a woken room rebuilds its memory from. */
  queued(): QueuedEvent[] {
    if (!this.#ready) return [];
    return this.#sql
      .exec<QueuedEvent>(
        "SELECT seq, name, member, NULL AS data, message_id AS messageId FROM webhook_events ORDER BY seq",
      )
      .toArray();
  }

  /** The oldest events due by `now`, in the order they happened. */
  dueEvents(now: number, limit: number): QueuedEvent[] {
    if (!this.#ready) return [];
    return this.#sql
      .exec<QueuedEvent>(
        "SELECT seq, name, member, data, message_id AS messageId FROM webhook_events WHERE due_at <= ? ORDER BY seq LIMIT ?",
        now,
        limit,
      )
      .toArray();
  }

  deleteEvents(events: QueuedEvent[]): void {
    for (const e of events) this.#sql.exec("DELETE FROM webhook_events WHERE seq = ?", e.seq);
  }

  /** Drops the oldest `count` queued message events. */
  dropQueuedMessages(count: number): void {
    this.#sql.exec(
      "DELETE FROM webhook_events WHERE seq IN (SELECT seq FROM webhook_events WHERE name = 'client_event' ORDER BY seq LIMIT ?)",
      count,
    );
  }

  nextEventDue(): number | null {
    if (!this.#ready) return null;
    return this.#sql
      .exec<{ at: number | null }>("SELECT MIN(due_at) AS at FROM webhook_events")
      .one().at;
  }

  addBatch(events: string, now: number, effects: BatchEffects | null, messages: number): void {
    this.#sql.exec(
      "INSERT INTO webhook_batches (body, created_at, next_at, effects, messages) VALUES (?, ?, ?, ?, ?)",
      events,
      now,
      now,
      effects === null ? null : JSON.stringify(effects),
      messages,
    );
  }

  /** The oldest undelivered batch: batches go out in order, one at a time. */
  headBatch(): Batch | null {
    if (!this.#ready) return null;
    const [row] = this.#sql
      .exec<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM webhook_batches ORDER BY id LIMIT 1`)
      .toArray();
    return row ? toBatch(row) : null;
  }

  /** Every undelivered batch, oldest first. */
  batches(): Batch[] {
    if (!this.#ready) return [];
    return this.#sql
      .exec<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM webhook_batches ORDER BY id`)
      .toArray()
      .map(toBatch);
  }

  /** The oldest batch of message events, if any. */
  oldestMessageBatch(): Batch | null {
    if (!this.#ready) return null;
    const [row] = this.#sql
      .exec<BatchRow>(
        `SELECT ${BATCH_COLUMNS} FROM webhook_batches WHERE messages > 0 ORDER BY id LIMIT 1`,
      )
      .toArray();
    return row ? toBatch(row) : null;
  }

  /** Deletes a batch; false when it was already gone. */
  deleteBatch(id: number): boolean {
    return this.#sql.exec("DELETE FROM webhook_batches WHERE id = ?", id).rowsWritten > 0;
  }

  deferBatch(id: number, attempts: number, nextAt: number): void {
    this.#sql.exec(
      "UPDATE webhook_batches SET attempts = ?, next_at = ? WHERE id = ?",
      attempts,
      nextAt,
      id,
    );
  }

  /** Batches created before `before`, oldest first. */
  batchesBefore(before: number): Batch[] {
    if (!this.#ready) return [];
    return this.#sql
      .exec<BatchRow>(
        `SELECT ${BATCH_COLUMNS} FROM webhook_batches WHERE created_at < ? ORDER BY id`,
        before,
      )
      .toArray()
      .map(toBatch);
  }
}

function toBatch(row: BatchRow): Batch {
  return {
    id: row.id,
    // Batches stored before time_ms was set per attempt hold the whole body.
    events: row.body.startsWith("{")
      ? JSON.stringify((JSON.parse(row.body) as { events: unknown[] }).events)
      : row.body,
    createdAt: row.created_at,
    attempts: row.attempts,
    nextAt: row.next_at,
    effects: row.effects === null ? null : (JSON.parse(row.effects) as BatchEffects),
    messages: row.messages,
  };
}
