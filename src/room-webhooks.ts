/**
 * @module room-webhooks
 * Occupancy and membership webhooks in Pusher's format. Members are counted
 * by member id, not by socket (two tabs are one member), and a leave waits
 * LEAVE_GRACE_MS before it is reported, so a reload or a network blip does
 * not produce a removed/added pair. Events are batched (BATCH_WINDOW_MS or
 * MAX_BATCH_EVENTS), kept in the room's SQLite outbox and delivered by the
 * room's alarm, in order, retried with exponential backoff for RETRY_FOR_MS.
 */
import { scheduleAlarm } from "./alarm-schedule";
import type { Log } from "./log";
import { WebhookOutbox, type QueuedEvent } from "./webhook-outbox";
import { signWebhook } from "./webhook-signature";

export const BATCH_WINDOW_MS = 250;
export const MAX_BATCH_EVENTS = 20;
export const LEAVE_GRACE_MS = 5_000;
/** One attempt's limit: a slow receiver must not hold the room's alarm. */
export const DELIVERY_TIMEOUT_MS = 5_000;
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 60_000;
/** How long a batch is retried; older batches are dropped (and logged). */
export const RETRY_FOR_MS = 5 * 60_000;
/** Deliveries per alarm run before yielding to the room's other work. */
const DELIVERIES_PER_RUN = 10;

export type WebhookEvent =
  | { name: "channel_occupied" | "channel_vacated"; channel: string }
  | { name: "member_added" | "member_removed"; channel: string; user_id: string };

export interface WebhookSettings {
  url: string;
  key: string;
  secret: string;
}

type WebhookVars = Partial<Record<"WEBHOOK_URL" | "WEBHOOK_KEY" | "WEBHOOK_SECRET", string>>;

/**
 * Webhooks are on when WEBHOOK_URL is set. A URL that is not http(s) or a
 * missing WEBHOOK_SECRET is a configuration error: reported, and nothing sent.
 */
export function webhookSettings(
  env: WebhookVars,
): { ok: true; value: WebhookSettings | null } | { ok: false; error: string } {
  const url = (env.WEBHOOK_URL ?? "").trim();
  if (url === "") return { ok: true, value: null };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, error: "WEBHOOK_URL is not a URL: webhooks are off" };
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    return { ok: false, error: "WEBHOOK_URL must be http(s): webhooks are off" };
  if (!env.WEBHOOK_SECRET)
    return {
      ok: false,
      error: "WEBHOOK_URL is set but WEBHOOK_SECRET is not: webhooks are off (they must be signed)",
    };
  return { ok: true, value: { url, key: env.WEBHOOK_KEY ?? "", secret: env.WEBHOOK_SECRET } };
}

export class RoomWebhooks {
  #outbox: WebhookOutbox;
  #storage: DurableObjectStorage;
  #settings: WebhookSettings;
  #room: string;
  #log: Log;
  /** Open sockets per member id; memory only, rebuilt by reconcile() after a wake. */
  #sockets = new Map<string, number>();

  constructor(storage: DurableObjectStorage, room: string, settings: WebhookSettings, log: Log) {
    this.#storage = storage;
    this.#outbox = new WebhookOutbox(storage.sql);
    this.#settings = settings;
    this.#room = room;
    this.#log = log;
  }

  /**
   * Brings the receiver's view in line with the sockets that survived a
   * wake or restart: members it believes present but without a socket get
   * a (graced) leave, sockets it was never told about a join.
   */
  reconcile(liveMemberIds: Iterable<string>, now: number): void {
    this.#sockets.clear();
    for (const id of liveMemberIds) this.#sockets.set(id, (this.#sockets.get(id) ?? 0) + 1);
    // One read of each table, not a query per member: a big room wakes often.
    const reported = new Set(this.#outbox.reported());
    for (const id of reported) if (!this.#sockets.has(id)) this.#scheduleRemoval(id, now);
    for (const id of this.#outbox.pendingRemovals())
      if (this.#sockets.has(id)) this.#outbox.cancelPendingRemoval(id);
    for (const id of this.#sockets.keys()) if (!reported.has(id)) this.#add(id, now);
    // Work left by a previous life of the object needs an alarm to get done.
    const next = this.#nextDue();
    if (next !== null) this.#schedule(next);
  }

  /** A socket of member `id` joined. */
  joined(id: string, now: number): void {
    const sockets = (this.#sockets.get(id) ?? 0) + 1;
    this.#sockets.set(id, sockets);
    if (sockets > 1) return;
    // Back within the grace period: the receiver never heard they left.
    if (this.#outbox.isReported(id)) this.#outbox.cancelPendingRemoval(id);
    else this.#add(id, now);
  }

  /** A socket of member `id` left. */
  left(id: string, now: number): void {
    const sockets = (this.#sockets.get(id) ?? 0) - 1;
    if (sockets > 0) return void this.#sockets.set(id, sockets);
    this.#sockets.delete(id);
    this.#scheduleRemoval(id, now);
  }

  #add(id: string, now: number): void {
    if (this.#outbox.reportedCount() === 0) this.#outbox.enqueue("channel_occupied", null, now);
    this.#outbox.report(id);
    this.#outbox.enqueue("member_added", id, now);
    this.#schedule(now + BATCH_WINDOW_MS);
  }

  #scheduleRemoval(id: string, now: number): void {
    if (!this.#outbox.isReported(id) || this.#outbox.hasPendingRemoval(id)) return;
    this.#outbox.enqueue("member_removed", id, now + LEAVE_GRACE_MS);
    this.#schedule(now + LEAVE_GRACE_MS);
  }

  #schedule(at: number): void {
    scheduleAlarm(this.#storage, at).catch((err: unknown) =>
      this.#log("error", { room: this.#room, webhook: "schedule", error: String(err) }),
    );
  }

  /**
   * The alarm's share: batches the due events, delivers due batches in
   * order, and returns when it next has work (null: none).
   */
  async runDue(now: number): Promise<number | null> {
    this.#formBatches(now);
    const expired = this.#outbox.dropBatchesBefore(now - RETRY_FOR_MS);
    if (expired > 0) this.#log("error", { room: this.#room, webhook: "dropped", batches: expired });
    for (let i = 0; i < DELIVERIES_PER_RUN; i++) {
      const batch = this.#outbox.headBatch();
      if (!batch || batch.nextAt > Date.now()) break;
      const failure = await this.#post(batch.body);
      const after = Date.now();
      if (failure === null) {
        this.#outbox.deleteBatch(batch.id);
        this.#log("webhook", { room: this.#room, attempts: batch.attempts + 1 });
        continue;
      }
      const attempts = batch.attempts + 1;
      const delay = Math.min(FIRST_RETRY_MS * 2 ** (attempts - 1), MAX_RETRY_MS);
      if (after + delay - batch.createdAt > RETRY_FOR_MS) {
        this.#outbox.deleteBatch(batch.id);
        this.#log("error", { room: this.#room, webhook: "dropped", attempts, failure });
        continue;
      }
      this.#outbox.deferBatch(batch.id, attempts, after + delay);
      this.#log("webhook_retry", { room: this.#room, attempts, failure, retryInMs: delay });
      break;
    }
    return this.#nextDue();
  }

  /** When the outbox next has work: a batch to (re)send or an event to batch. */
  #nextDue(): number | null {
    const times = [this.#outbox.headBatch()?.nextAt, this.#outbox.nextEventDue()].filter(
      (t): t is number => typeof t === "number",
    );
    return times.length === 0 ? null : Math.min(...times);
  }

  /** Turns due events into batches of at most MAX_BATCH_EVENTS events. */
  #formBatches(now: number): void {
    for (;;) {
      const due = this.#outbox.dueEvents(now, MAX_BATCH_EVENTS);
      if (due.length === 0) return;
      const events = due.flatMap((e) => this.#emit(e));
      this.#outbox.deleteEvents(due);
      if (events.length > 0) this.#outbox.addBatch(JSON.stringify({ time_ms: now, events }), now);
    }
  }

  #emit(queued: QueuedEvent): WebhookEvent[] {
    const channel = this.#room;
    if (queued.name === "channel_occupied") return [{ name: "channel_occupied", channel }];
    const user_id = queued.member ?? "";
    if (queued.name === "member_added") return [{ name: "member_added", channel, user_id }];
    if (!this.#outbox.isReported(user_id)) return [];
    this.#outbox.unreport(user_id);
    const removed: WebhookEvent = { name: "member_removed", channel, user_id };
    return this.#outbox.reportedCount() === 0
      ? [removed, { name: "channel_vacated", channel }]
      : [removed];
  }

  /** One delivery attempt; null on a 2xx, else why it failed. */
  async #post(body: string): Promise<string | null> {
    // A timer cleared as soon as the answer comes: AbortSignal.timeout's
    // timer would keep the object awake (and unevictable) for its full length.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), DELIVERY_TIMEOUT_MS);
    try {
      const res = await fetch(this.#settings.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-Pusher-Key": this.#settings.key,
          "X-Pusher-Signature": await signWebhook(this.#settings.secret, body),
        },
        body,
        signal: abort.signal,
        // A redirect is a failure, not an invitation to send the signed body elsewhere.
        redirect: "manual",
      });
      await res.body?.cancel();
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      return abort.signal.aborted
        ? `no answer within ${DELIVERY_TIMEOUT_MS} ms`
        : String((err as Error).message ?? err);
    } finally {
      clearTimeout(timer);
    }
  }
}
