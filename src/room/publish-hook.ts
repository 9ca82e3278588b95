/**
 * @module publish-hook
 * The publish hook: before a member's message is stored, the room asks the
 * site's backend (PUBLISH_HOOK_URL, signed like the webhooks) to allow it,
 * deny it with a reason, or replace its text or user name. Each sender's
 * messages are asked one at a time, so they are stored in the order sent;
 * different senders are asked concurrently, and a fetch does not hold the
 * object's input gate, so the rest of the room goes on while one waits.
 * Memory is bounded: MAX_IN_FLIGHT calls per room, MAX_WAITING_PER_SENDER
 * messages per sender; past either the message is refused as "busy".
 */
import { parseDisplayName } from "../identity/display-name";
import type { Log } from "../log";
import { checkMessageText, type ErrorFrame, type Member } from "../protocol";
import { signWebhook } from "../webhooks/webhook-signature";

/** Hook calls one room has open at once. */
export const MAX_IN_FLIGHT = 32;
/** Messages of one sender waiting for the hook, the one being asked included. */
export const MAX_WAITING_PER_SENDER = 8;
export const DEFAULT_TIMEOUT_MS = 1500;
/** Longest `reason` passed on to the sender; the rest is cut. */
export const MAX_REASON_CHARS = 200;
/** How often a room writes its summary line while the hook is being asked. */
export const HOOK_LOG_INTERVAL_MS = 10_000;

export type FailurePolicy = "closed" | "open";

export interface PublishHookSettings {
  url: string;
  key: string;
  secret: string;
  timeoutMs: number;
  failure: FailurePolicy;
  maxMessageChars: number;
  maxNameChars: number;
}

type HookVars = Partial<
  Record<
    | "PUBLISH_HOOK_URL"
    | "PUBLISH_HOOK_TIMEOUT_MS"
    | "PUBLISH_HOOK_FAILURE"
    | "WEBHOOK_KEY"
    | "WEBHOOK_SECRET",
    string
  >
>;

/**
 * The hook is on when PUBLISH_HOOK_URL is set. A URL that is not http(s), a
 * missing WEBHOOK_SECRET or an unknown failure policy is a configuration
 * error; the room then treats every call as failed (fails closed), never
 * as "no hook": a site that set a hook relies on it.
 */
export function publishHookSettings(
  env: HookVars,
  limits: { maxMessageChars: number; maxNameChars: number },
): { ok: true; value: PublishHookSettings | null } | { ok: false; error: string } {
  const url = (env.PUBLISH_HOOK_URL ?? "").trim();
  if (url === "") return { ok: true, value: null };
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return { ok: false, error: "PUBLISH_HOOK_URL is not a URL" };
  }
  if (protocol !== "https:" && protocol !== "http:")
    return { ok: false, error: "PUBLISH_HOOK_URL must be http(s)" };
  if (!env.WEBHOOK_SECRET)
    return { ok: false, error: "PUBLISH_HOOK_URL is set but WEBHOOK_SECRET is not" };
  const failure = (env.PUBLISH_HOOK_FAILURE ?? "").trim() || "closed";
  if (failure !== "closed" && failure !== "open")
    return { ok: false, error: 'PUBLISH_HOOK_FAILURE must be "closed" or "open"' };
  const timeout = Number((env.PUBLISH_HOOK_TIMEOUT_MS ?? "").trim() || DEFAULT_TIMEOUT_MS);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 30_000)
    return { ok: false, error: "PUBLISH_HOOK_TIMEOUT_MS must be 1 to 30000" };
  return {
    ok: true,
    value: {
      url,
      key: env.WEBHOOK_KEY ?? "",
      secret: env.WEBHOOK_SECRET,
      timeoutMs: timeout,
      failure,
      ...limits,
    },
  };
}

/** One member's message, waiting for the site's verdict. */
export interface HookAsk {
  ws: WebSocket;
  member: Member;
  message: string;
  clientId: string | undefined;
}

/** What becomes of a message: stored with this text and name, or refused with this frame. */
export type HookAnswer =
  | { ok: true; message: string; user: string }
  | { ok: false; error: ErrorFrame };

type Verdict =
  | { action: "allow"; message?: string; user?: string }
  | { action: "deny"; reason: string }
  | { action: "failed"; why: string };

export class PublishHook {
  #settings: PublishHookSettings | null;
  #broken: string | null;
  #room: string;
  #log: Log;
  #answer: (ask: HookAsk, answer: HookAnswer) => void;
  /** Per sender: its messages not yet answered, the first being asked. */
  #queues = new Map<string, HookAsk[]>();
  #inFlight = 0;
  #stats = { asked: 0, allowed: 0, denied: 0, replaced: 0, failed: 0, busy: 0, slowestMs: 0 };
  #lastFailure: string | null = null;
  #logTimer: ReturnType<typeof setTimeout> | null = null;

  /**
   * `settings` null with `broken` set: the configuration was refused and every
   * message meets the failure policy "closed". `answer` gets each verdict, in
   * each sender's order.
   */
  constructor(
    settings: PublishHookSettings | { broken: string },
    room: string,
    log: Log,
    answer: (ask: HookAsk, answer: HookAnswer) => void,
  ) {
    this.#settings = "broken" in settings ? null : settings;
    this.#broken = "broken" in settings ? settings.broken : null;
    this.#room = room;
    this.#log = log;
    this.#answer = answer;
  }

  /** Reads the hook's vars: null when PUBLISH_HOOK_URL is unset. */
  static fromEnv(
    env: HookVars,
    limits: { maxMessageChars: number; maxNameChars: number },
    room: string,
    log: Log,
    answer: (ask: HookAsk, answer: HookAnswer) => void,
  ): PublishHook | null {
    const parsed = publishHookSettings(env, limits);
    if (parsed.ok && parsed.value === null) return null;
    if (!parsed.ok)
      log("error", { room, publishHook: "config", error: `${parsed.error}: messages are refused` });
    return new PublishHook(parsed.ok ? parsed.value! : { broken: parsed.error }, room, log, answer);
  }

  /** Queues a member's message for the hook, or refuses it at once as busy. */
  submit(ws: WebSocket, member: Member, message: string, clientId: string | undefined): void {
    const ask: HookAsk = { ws, member, message, clientId };
    // A guest's id and a verified id are different senders even when equal.
    const sender = `${member.verified}:${member.id}`;
    const queue = this.#queues.get(sender);
    // A sender with nothing waiting needs a call slot now; one with a queue
    // inherits its own slot when the message ahead is answered.
    if (queue ? queue.length >= MAX_WAITING_PER_SENDER : this.#inFlight >= MAX_IN_FLIGHT) {
      this.#stats.busy++;
      this.#scheduleLog();
      const perSender = queue !== undefined;
      return this.#answer(ask, {
        ok: false,
        error: withClientId(
          {
            type: "error",
            code: "busy",
            message: perSender
              ? `Too many of your messages are waiting to be checked (at most ${MAX_WAITING_PER_SENDER}): wait for their answers, then send again.`
              : "The room is checking too many messages right now: send again in a moment.",
          },
          ask.clientId,
        ),
      });
    }
    if (queue) return void queue.push(ask);
    this.#queues.set(sender, [ask]);
    this.#inFlight++;
    void this.#run(sender);
  }

  /** Asks about a sender's messages one by one until its queue is empty. */
  async #run(sender: string): Promise<void> {
    const queue = this.#queues.get(sender)!;
    while (queue.length > 0) {
      const ask = queue[0]!;
      const started = Date.now();
      const verdict = await this.#ask(ask);
      this.#count(verdict, Date.now() - started);
      queue.shift();
      try {
        this.#answer(ask, this.#toAnswer(ask, verdict));
      } catch (err) {
        // A failed store must not leave the sender's queue stuck for good.
        this.#log("error", { room: this.#room, publishHook: "answer", error: (err as Error).name });
      }
    }
    this.#queues.delete(sender);
    this.#inFlight--;
  }

  #toAnswer(ask: HookAsk, verdict: Verdict): HookAnswer {
    const refuse = (code: ErrorFrame["code"], message: string): HookAnswer => ({
      ok: false,
      error: withClientId({ type: "error", code, message }, ask.clientId),
    });
    if (verdict.action === "deny") return refuse("refused", verdict.reason);
    if (verdict.action === "failed") {
      if (this.#settings?.failure === "open")
        return { ok: true, message: ask.message, user: ask.member.name };
      return refuse(
        "unavailable",
        "Your message could not be checked by the site just now and was not sent: send it again.",
      );
    }
    return {
      ok: true,
      message: verdict.message ?? ask.message,
      user: verdict.user ?? ask.member.name,
    };
  }

  /** One call to the hook; every way it can go wrong is a "failed" verdict. */
  async #ask(ask: HookAsk): Promise<Verdict> {
    const settings = this.#settings;
    if (!settings) return { action: "failed", why: this.#broken ?? "no settings" };
    const body = JSON.stringify({
      time_ms: Date.now(),
      room: this.#room,
      member: { id: ask.member.id, name: ask.member.name, verified: ask.member.verified },
      message: ask.message,
      ...(ask.clientId === undefined ? {} : { clientId: ask.clientId }),
    });
    // Cleared as soon as the answer is read: an AbortSignal.timeout timer
    // would keep the object awake for its full length.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), settings.timeoutMs);
    try {
      const res = await fetch(settings.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-Pusher-Key": settings.key,
          "X-Pusher-Signature": await signWebhook(settings.secret, body),
        },
        body,
        signal: abort.signal,
        // A redirect is a failure, not an invitation to send the signed body elsewhere.
        redirect: "manual",
      });
      const text = await res.text();
      if (!res.ok) return { action: "failed", why: `HTTP ${res.status}` };
      return parseVerdict(text, settings);
    } catch (err) {
      return {
        action: "failed",
        why: abort.signal.aborted
          ? `no answer within ${settings.timeoutMs} ms`
          : String((err as Error).message ?? err),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  #count(verdict: Verdict, ms: number): void {
    const s = this.#stats;
    s.asked++;
    s.slowestMs = Math.max(s.slowestMs, ms);
    if (verdict.action === "deny") s.denied++;
    else if (verdict.action === "failed") {
      s.failed++;
      this.#lastFailure = verdict.why;
    } else if (verdict.message !== undefined || verdict.user !== undefined) s.replaced++;
    else s.allowed++;
    this.#scheduleLog();
  }

  /** One line per room per interval: a failing hook shows as a warning, not a line per message. */
  #scheduleLog(): void {
    this.#logTimer ??= setTimeout(() => this.flushLog(), HOOK_LOG_INTERVAL_MS);
  }

  /** Writes the counts gathered so far (if any) now. */
  flushLog(): void {
    if (this.#logTimer !== null) clearTimeout(this.#logTimer);
    this.#logTimer = null;
    const s = this.#stats;
    if (s.asked + s.busy === 0) return;
    const troubled = s.failed + s.busy > 0;
    this.#log(troubled ? "publish_hook_failing" : "publish_hook", {
      room: this.#room,
      ...s,
      policy: this.#settings?.failure ?? "closed",
      lastFailure: this.#lastFailure,
    });
    this.#stats = {
      asked: 0,
      allowed: 0,
      denied: 0,
      replaced: 0,
      failed: 0,
      busy: 0,
      slowestMs: 0,
    };
    this.#lastFailure = null;
  }
}

/**
 * The site's answer: an empty 2xx body is "allow"; otherwise a JSON object
 * `{"action": "allow" | "deny" | "replace", "reason"?, "message"?, "user"?}`.
 * A replacement must itself be a valid message or name, or the answer is
 * malformed (a "failed" verdict).
 */
export function parseVerdict(
  text: string,
  limits: { maxMessageChars: number; maxNameChars: number },
): Verdict {
  if (text.trim() === "") return { action: "allow" };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { action: "failed", why: "answer is not JSON" };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { action: "failed", why: "answer is not a JSON object" };
  const { action, reason, message, user } = body as Record<string, unknown>;
  if (action === "allow") return { action: "allow" };
  if (action === "deny") {
    const given = typeof reason === "string" ? reason.toWellFormed().trim() : "";
    return {
      action: "deny",
      reason:
        given === "" ? "Refused by the site." : [...given].slice(0, MAX_REASON_CHARS).join(""),
    };
  }
  if (action !== "replace") return { action: "failed", why: 'answer has no valid "action"' };
  if (message === undefined && user === undefined)
    return { action: "failed", why: 'a "replace" answer needs "message" or "user"' };
  const verdict: Verdict = { action: "allow" };
  if (message !== undefined) {
    const checked =
      typeof message === "string" ? checkMessageText(message, limits.maxMessageChars) : null;
    if (!checked?.ok) return { action: "failed", why: 'the replacement "message" is not valid' };
    verdict.message = checked.message;
  }
  if (user !== undefined) {
    const name = typeof user === "string" ? parseDisplayName(user, limits.maxNameChars) : null;
    if (!name?.ok || name.value === null)
      return { action: "failed", why: 'the replacement "user" is not a valid name' };
    verdict.user = name.value;
  }
  return verdict;
}

function withClientId(frame: ErrorFrame, clientId: string | undefined): ErrorFrame {
  return clientId === undefined ? frame : { ...frame, clientId };
}
