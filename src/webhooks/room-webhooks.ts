/**
 * @module room-webhooks
 * Occupancy, membership and (opt-in) message webhooks in Pusher's format.
 * Members are counted by member id, not by socket (two tabs are one member),
 * and a leave waits LEAVE_GRACE_MS before it is reported, so a reload or a
 * network blip does not produce a removed/added pair. Events are batched,
 * kept in the room's SQLite outbox and delivered by the room's alarm, in
 * order, retried with exponential backoff for RETRY_FOR_MS. The receiver
 * converges: a member counts as told only once a batch saying so is
 * delivered, and a batch that is dropped (expired, or refused with a
 * permanent 4xx) is followed by a resync that states the room as it is now.
 */
import { scheduleAlarm } from "../alarm-schedule";
import { roomConfig, type ConfigVars } from "../config";
import type { Log } from "../log";
import { serialize, type ChatMessage } from "../protocol";

import { WebhookOutbox, type Batch, type BatchEffects, type QueuedEvent } from "./webhook-outbox";
import { signWebhook } from "./webhook-signature";

export const BATCH_WINDOW_MS = 250;
/** Membership events per delivery (a channel_occupied or channel_vacated may come on top). */
export const MAX_BATCH_EVENTS = 20;
/** Message events per delivery: a busy room's backlog drains in few requests. */
export const MAX_MESSAGE_BATCH_EVENTS = 100;
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
  | { name: "member_added" | "member_removed"; channel: string; user_id: string }
  | {
      name: "client_event";
      channel: string;
      event: "message";
      id: number;
      data: string;
      user_id?: string;
    };

export interface WebhookSettings {
  url: string;
  key: string;
  secret: string;
  /** WEBHOOK_MESSAGES: one client_event per stored message. */
  messages: boolean;
  /** Message events that may wait for the receiver; past this the oldest are dropped. */
  messageBacklog: number;
}

type WebhookVars = ConfigVars &
  Partial<Record<"WEBHOOK_URL" | "WEBHOOK_KEY" | "WEBHOOK_SECRET" | "WEBHOOK_MESSAGES", string>>;

/**
 * Webhooks are on when WEBHOOK_URL is set. A URL that is not http(s), a
 * missing WEBHOOK_SECRET or WEBHOOK_KEY, or a WEBHOOK_MESSAGES other than
 * "true"/"false" is a configuration error: reported, and nothing sent.
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
  const key = (env.WEBHOOK_KEY ?? "").trim();
  if (key === "")
    return {
      ok: false,
      error:
        "WEBHOOK_URL is set but WEBHOOK_KEY is not: webhooks are off (receivers such as Pusher's libraries check X-Pusher-Key against their app key)",
    };
  const messages = (env.WEBHOOK_MESSAGES ?? "").trim();
  if (messages !== "" && messages !== "true" && messages !== "false")
    return {
      ok: false,
      error: `WEBHOOK_MESSAGES must be "true" or "false", not ${JSON.stringify(messages)}: webhooks are off`,
    };
  return {
    ok: true,
    value: {
      url,
      key,
      secret: env.WEBHOOK_SECRET,
      messages: messages === "true",
      // Half the kept history, as for members that lag: a receiver that
      // sees a gap can still fill it from GET …/messages?since=.
      messageBacklog: Math.max(1, Math.floor(roomConfig(env).historyLimit / 2)),
    },
  };
}

/**
 * Answers that say "this will not work however often you try": dropped at
 * once, not retried. 408, 425 and 429 ask the sender to come back later.
 */
export function isPermanentRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429;
}

type Attempt = { ok: true } | { ok: false; failure: string; permanent: boolean };

export class RoomWebhooks {
  #outbox: WebhookOutbox;
  #storage: DurableObjectStorage;
  #settings: WebhookSettings;
  #room: string;
  #log: Log;
  /** Open sockets per member id; memory only, rebuilt by reconcile() after a wake. */
  #sockets = new Map<string, number>();
  /**
   * Who the receiver will believe present once every batch made so far is
   * delivered. With the two queued sets below it is all the join and leave
   * paths read: no query per join.
   */
  #formed = new Set<string>();
  /** Members with a member_added waiting in the queue. */
  #queuedAdds = new Set<string>();
  /** Members whose leave waits out its grace period in the queue. */
  #queuedRemovals = new Set<string>();
  #resyncQueued = false;
  /**
   * Message events queued or batched, not yet delivered or dropped. Kept in
   * memory, so a transaction rolled back after its message was counted
   * leaves it one high until the next wake: the cap errs on the small side.
   */
  #messageBacklog = 0;

  constructor(storage: DurableObjectStorage, room: string, settings: WebhookSettings, log: Log) {
    this.#storage = storage;
    this.#outbox = new WebhookOutbox(storage.sql);
    this.#settings = settings;
    this.#room = room;
    this.#log = log;
    this.#load();
  }

  /** Rebuilds the memory from the outbox: once per wake, one read of each table. */
  #load(): void {
    for (const id of this.#outbox.told()) this.#formed.add(id);
    for (const batch of this.#outbox.batches()) {
      this.#messageBacklog += batch.messages;
      for (const id of batch.effects?.added ?? []) this.#formed.add(id);
      for (const id of batch.effects?.removed ?? []) this.#formed.delete(id);
    }
    for (const e of this.#outbox.queued()) {
      if (e.name === "member_added" && e.member !== null) this.#queuedAdds.add(e.member);
      else if (e.name === "member_removed" && e.member !== null) this.#queuedRemovals.add(e.member);
      else if (e.name === "client_event") this.#messageBacklog++;
      else if (e.name === "resync") this.#resyncQueued = true;
    }
  }

  /** Whether the receiver is, or will be once the queue is sent, told `id` is here. */
  #announced(id: string): boolean {
    return this.#queuedAdds.has(id) || (this.#formed.has(id) && !this.#queuedRemovals.has(id));
  }

  /**
   * Brings the receiver's view in line with the sockets that survived a
   * wake or restart: members it believes present but without a socket get
   * a (graced) leave, sockets it was never told about a join.
   */
  reconcile(liveMemberIds: Iterable<string>, now: number): void {
    this.#sockets.clear();
    for (const id of liveMemberIds) this.#sockets.set(id, (this.#sockets.get(id) ?? 0) + 1);
    for (const id of [...this.#formed, ...this.#queuedAdds])
      if (!this.#sockets.has(id)) this.#scheduleRemoval(id, now);
    for (const id of this.#queuedRemovals) if (this.#sockets.has(id)) this.#cancelRemoval(id);
    for (const id of this.#sockets.keys()) if (!this.#announced(id)) this.#add(id, now);
    // Tables from before delivery-based reporting marked members told when
    // queued: what the receiver really has is unknown, so say it all again.
    if (this.#outbox.takeUpgraded()) this.#queueResync(now, 1);
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
    if (this.#queuedRemovals.has(id)) this.#cancelRemoval(id);
    else if (!this.#announced(id)) this.#add(id, now);
  }

  /** A socket of member `id` left. */
  left(id: string, now: number): void {
    const sockets = (this.#sockets.get(id) ?? 0) - 1;
    if (sockets > 0) return void this.#sockets.set(id, sockets);
    this.#sockets.delete(id);
    this.#scheduleRemoval(id, now);
  }

  /**
   * A message was stored: queues its client_event. Called in the same
   * storage transaction as the message, so a stored message always has its
   * event and a rolled-back one never does.
   */
  messageStored(message: ChatMessage & { duplicate?: true }): void {
    if (!this.#settings.messages || message.duplicate) return;
    const { duplicate: _, ...stored } = message;
    const now = Date.now();
    this.#outbox.enqueue(
      "client_event",
      stored.memberId ?? null,
      now,
      serialize(stored),
      stored.id,
    );
    this.#messageBacklog++;
    if (this.#messageBacklog > this.#settings.messageBacklog) this.#dropOldestMessages();
    // After the transaction: the alarm is not part of it.
    queueMicrotask(() => this.#schedule(now + BATCH_WINDOW_MS));
  }

  /** The receiver fell too far behind: its oldest message events go, and the id jump shows it. */
  #dropOldestMessages(): void {
    let dropped = 0;
    while (this.#messageBacklog > this.#settings.messageBacklog) {
      const oldest = this.#outbox.oldestMessageBatch();
      if (oldest) {
        this.#outbox.deleteBatch(oldest.id);
        this.#messageBacklog -= oldest.messages;
        dropped += oldest.messages;
        continue;
      }
      const excess = this.#messageBacklog - this.#settings.messageBacklog;
      this.#outbox.dropQueuedMessages(excess);
      this.#messageBacklog -= excess;
      dropped += excess;
    }
    this.#log("error", {
      room: this.#room,
      webhook: "messages_dropped",
      messages: dropped,
      backlog: this.#settings.messageBacklog,
    });
  }

  #add(id: string, now: number): void {
    this.#outbox.enqueue("member_added", id, now);
    this.#queuedAdds.add(id);
    this.#schedule(now + BATCH_WINDOW_MS);
  }

  #scheduleRemoval(id: string, now: number): void {
    // Joined and gone before the add went out: the pair cancels, nothing is sent.
    if (this.#queuedAdds.has(id)) {
      this.#outbox.cancel("member_added", id);
      this.#queuedAdds.delete(id);
      return;
    }
    if (!this.#formed.has(id) || this.#queuedRemovals.has(id)) return;
    this.#outbox.enqueue("member_removed", id, now + LEAVE_GRACE_MS);
    this.#queuedRemovals.add(id);
    this.#schedule(now + LEAVE_GRACE_MS);
  }

  #cancelRemoval(id: string): void {
    this.#outbox.cancel("member_removed", id);
    this.#queuedRemovals.delete(id);
  }

  #queueResync(at: number, level: number): void {
    if (this.#resyncQueued) return;
    this.#outbox.enqueue("resync", null, at, String(level));
    this.#resyncQueued = true;
    this.#schedule(at);
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
    for (const batch of this.#outbox.batchesBefore(now - RETRY_FOR_MS))
      this.#drop(batch, { attempts: batch.attempts, failure: "expired" }, now);
    for (let i = 0; i < DELIVERIES_PER_RUN; i++) {
      const batch = this.#outbox.headBatch();
      if (!batch || batch.nextAt > Date.now()) break;
      const result = await this.#post(batch.events);
      const after = Date.now();
      const attempts = batch.attempts + 1;
      if (result.ok) {
        this.#delivered(batch);
        this.#log("webhook", { room: this.#room, attempts });
        continue;
      }
      const delay = Math.min(FIRST_RETRY_MS * 2 ** (attempts - 1), MAX_RETRY_MS);
      if (result.permanent || after + delay - batch.createdAt > RETRY_FOR_MS) {
        this.#drop(batch, { attempts, failure: result.failure }, after);
        continue;
      }
      this.#outbox.deferBatch(batch.id, attempts, after + delay);
      this.#log("webhook_retry", {
        room: this.#room,
        attempts,
        failure: result.failure,
        retryInMs: delay,
      });
      break;
    }
    return this.#nextDue();
  }

  #delivered(batch: Batch): void {
    // Messages trimmed while the request was out took the row (and their count) already.
    if (!this.#outbox.deleteBatch(batch.id)) return;
    this.#messageBacklog -= batch.messages;
    if (batch.effects) this.#outbox.tell(batch.effects.added, batch.effects.removed);
  }

  /**
   * Gives a batch up. Message events leave a gap in the ids, which the
   * receiver fills from the history API; membership leaves the receiver's
   * view unknown, so a resync follows (backing off while they keep failing).
   */
  #drop(batch: Batch, why: { attempts: number; failure: string }, now: number): void {
    if (!this.#outbox.deleteBatch(batch.id)) return;
    this.#log("error", {
      room: this.#room,
      webhook: "dropped",
      ...why,
      events: batch.messages > 0 ? "messages" : "members",
    });
    if (batch.messages > 0) {
      this.#messageBacklog -= batch.messages;
      return;
    }
    // The receiver may have acted on it before failing: count its members as
    // told, so the resync names them gone if they are.
    if (batch.effects) this.#outbox.tell(batch.effects.added, []);
    // The resync restates everything the membership batches behind this one
    // say (never tried: the head goes first), so they go too: a receiver
    // that refuses gets one request per resync, not one per batch.
    for (const later of this.#outbox.batches())
      if (later.messages === 0) this.#outbox.deleteBatch(later.id);
    const level = (batch.effects?.resync ?? 0) + 1;
    this.#queueResync(now + Math.min(FIRST_RETRY_MS * 2 ** (level - 1), MAX_RETRY_MS), level);
  }

  /** When the outbox next has work: a batch to (re)send or an event to batch. */
  #nextDue(): number | null {
    const times = [this.#outbox.headBatch()?.nextAt, this.#outbox.nextEventDue()].filter(
      (t): t is number => typeof t === "number",
    );
    return times.length === 0 ? null : Math.min(...times);
  }

  /** Turns due events into batches: membership and messages apart, each kind in order. */
  #formBatches(now: number): void {
    for (;;) {
      const due = this.#outbox.dueEvents(now, MAX_MESSAGE_BATCH_EVENTS);
      if (due.length === 0) return;
      let batch = new BatchBuilder(this.#room);
      const flush = () => {
        batch.store(this.#outbox, now);
        batch = new BatchBuilder(this.#room);
      };
      for (const e of due) {
        if (e.name === "resync") {
          flush();
          this.#formResync(Number(e.data ?? 1), now);
          continue;
        }
        const messages = e.name === "client_event";
        if (batch.full(messages)) flush();
        if (messages) batch.message(e);
        else this.#emitMember(e, batch);
      }
      flush();
      this.#outbox.deleteEvents(due);
    }
  }

  #emitMember(e: QueuedEvent, batch: BatchBuilder): void {
    const channel = this.#room;
    const id = e.member ?? "";
    if (e.name === "channel_occupied") return batch.member({ name: "channel_occupied", channel });
    if (e.name === "member_added") {
      // Already stated by a resync made earlier in this run.
      if (!this.#queuedAdds.delete(id)) return;
      if (this.#formed.size === 0) batch.member({ name: "channel_occupied", channel });
      this.#formed.add(id);
      batch.member({ name: "member_added", channel, user_id: id }, { added: id });
      return;
    }
    this.#queuedRemovals.delete(id);
    if (!this.#formed.delete(id)) return;
    batch.member({ name: "member_removed", channel, user_id: id }, { removed: id });
    if (this.#formed.size === 0) batch.member({ name: "channel_vacated", channel });
  }

  /**
   * The room as it is now, to a receiver whose view is unknown: occupied
   * (or vacated), every member present added, everyone it may have been
   * told of and who is gone removed.
   */
  #formResync(level: number, now: number): void {
    this.#resyncQueued = false;
    const channel = this.#room;
    const present = new Set([...this.#formed, ...this.#queuedAdds]);
    for (const id of this.#queuedAdds) this.#outbox.cancel("member_added", id);
    this.#queuedAdds.clear();
    this.#formed = present;
    const gone = this.#outbox.told().filter((id) => !present.has(id));
    const events: [WebhookEvent, { added?: string; removed?: string }?][] = [];
    if (present.size > 0) events.push([{ name: "channel_occupied", channel }]);
    for (const id of gone)
      events.push([{ name: "member_removed", channel, user_id: id }, { removed: id }]);
    for (const id of present)
      events.push([{ name: "member_added", channel, user_id: id }, { added: id }]);
    if (present.size === 0) events.push([{ name: "channel_vacated", channel }]);
    for (let i = 0; i < events.length; i += MAX_MESSAGE_BATCH_EVENTS) {
      const part = new BatchBuilder(channel, level);
      for (const [event, effect] of events.slice(i, i + MAX_MESSAGE_BATCH_EVENTS))
        part.member(event, effect);
      part.store(this.#outbox, now);
    }
    this.#log("webhook", {
      room: channel,
      resync: level,
      present: present.size,
      gone: gone.length,
    });
  }

  /** One delivery attempt, signed with its own time_ms. */
  async #post(events: string): Promise<Attempt> {
    // Pusher's libraries refuse a time_ms far from their clock (Python's by
    // 300 s): set per attempt, so a retry or a backlog is accepted too.
    const body = `{"time_ms":${Date.now()},"events":${events}}`;
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
      return res.ok
        ? { ok: true }
        : { ok: false, failure: `HTTP ${res.status}`, permanent: isPermanentRefusal(res.status) };
    } catch (err) {
      const failure = abort.signal.aborted
        ? `no answer within ${DELIVERY_TIMEOUT_MS} ms`
        : String((err as Error).message ?? err);
      return { ok: false, failure, permanent: false };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One batch being made: its events, its membership effects, its message count. */
class BatchBuilder {
  #channel: string;
  #events: string[] = [];
  #effects: BatchEffects;
  #size = 0;
  #messages = 0;

  constructor(channel: string, resync?: number) {
    this.#channel = channel;
    this.#effects =
      resync === undefined ? { added: [], removed: [] } : { added: [], removed: [], resync };
  }

  /** Whether a queued event of this kind must start a new batch. */
  full(messages: boolean): boolean {
    if (this.#events.length === 0) return false;
    if (messages !== this.#messages > 0) return true;
    return this.#size >= (messages ? MAX_MESSAGE_BATCH_EVENTS : MAX_BATCH_EVENTS);
  }

  member(event: WebhookEvent, effect?: { added?: string; removed?: string }): void {
    this.#events.push(JSON.stringify(event));
    // A channel_vacated may follow the member_removed that filled the batch.
    if (event.name !== "channel_vacated") this.#size++;
    if (effect?.added !== undefined) this.#effects.added.push(effect.added);
    if (effect?.removed !== undefined) this.#effects.removed.push(effect.removed);
  }

  message(e: QueuedEvent): void {
    const event: WebhookEvent = {
      name: "client_event",
      channel: this.#channel,
      event: "message",
      id: e.messageId ?? 0,
      data: e.data ?? "",
    };
    if (e.member !== null) event.user_id = e.member;
    this.#events.push(JSON.stringify(event));
    this.#size++;
    this.#messages++;
  }

  store(outbox: WebhookOutbox, now: number): void {
    if (this.#events.length === 0) return;
    outbox.addBatch(
      `[${this.#events.join(",")}]`,
      now,
      this.#messages > 0 ? null : this.#effects,
      this.#messages,
    );
  }
}
