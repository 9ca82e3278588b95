/**
 * @module post-client
 * A typed client for the inject API, for Node 18+, Workers and browsers: the
 * `npm run post` CLI is built on it. It imports nothing, so it can be copied
 * into another project as one file.
 */

export interface PostOptions {
  /** Display name the message is shown under (default "api"). */
  user?: string;
  /** Sent as Idempotency-Key; one is generated when absent, so retries never double-post. */
  idempotencyKey?: string;
  /** Attempts after the first on network failures, 429, 502 and 504 (default 4). */
  retries?: number;
  /** Delay before the first retry in ms, doubled on each further one (default 250). */
  backoffMs?: number;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (attempt: number, reason: string) => void;
  fetch?: typeof fetch;
}

export interface Posted {
  id: number;
  delivered: number;
}

export interface PostedBatch {
  ids: number[];
  delivered: number;
}

export type PostErrorKind =
  | "unauthorized"
  | "rejected"
  | "too_large"
  | "unavailable"
  | "unreachable"
  | "http";

/** A failed post, with a one-line `message` a person can act on. */
export class PostError extends Error {
  override name = "PostError";
  readonly kind: PostErrorKind;
  readonly status: number | null;

  constructor(kind: PostErrorKind, message: string, status: number | null = null) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

const RETRY_STATUSES = new Set([429, 502, 504]);

/** Posts one message into `room`; resolves with its id and the sockets it reached. */
export async function postMessage(
  baseUrl: string,
  token: string,
  room: string,
  message: string,
  options: PostOptions = {},
): Promise<Posted> {
  const body = options.user === undefined ? { message } : { message, user: options.user };
  return (await send(baseUrl, token, room, body, options)) as Posted;
}

/** Posts up to 100 messages that are stored and delivered in order, with nothing in between. */
export async function postMessages(
  baseUrl: string,
  token: string,
  room: string,
  messages: { message: string; user?: string }[],
  options: PostOptions = {},
): Promise<PostedBatch> {
  return (await send(baseUrl, token, room, { messages }, options)) as PostedBatch;
}

async function send(
  baseUrl: string,
  token: string,
  room: string,
  body: unknown,
  options: PostOptions,
): Promise<unknown> {
  const doFetch = options.fetch ?? fetch;
  const url = `${baseUrl.replace(/\/+$/, "")}/api/rooms/${encodeURIComponent(room)}/messages`;
  const headers = {
    Authorization: `Bearer ${token}`,
    "Content-Type": "application/json",
    "Idempotency-Key": options.idempotencyKey ?? crypto.randomUUID(),
  };
  const retries = options.retries ?? 4;
  let delay = options.backoffMs ?? 250;
  for (let attempt = 0; ; attempt++) {
    let reason: string;
    try {
      const res = await doFetch(url, { method: "POST", headers, body: JSON.stringify(body) });
      if (res.ok) return await res.json();
      if (!RETRY_STATUSES.has(res.status) || attempt >= retries)
        throw await httpError(res, baseUrl);
      reason = `HTTP ${res.status}`;
    } catch (err) {
      if (err instanceof PostError) throw err;
      reason = networkReason(err);
      if (attempt >= retries)
        throw new PostError(
          "unreachable",
          `cannot reach ${baseUrl} (${reason}): is the server running?`,
        );
    }
    options.onRetry?.(attempt + 1, reason);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay *= 2;
  }
}

async function httpError(res: Response, baseUrl: string): Promise<PostError> {
  let detail = res.statusText;
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body.error === "string") detail = body.error;
  } catch {
    // Not our JSON (a proxy's error page): keep the status text.
  }
  switch (res.status) {
    case 401:
      return new PostError(
        "unauthorized",
        `unauthorized (401): ${baseUrl} refused the token; use the server's BROADCAST_TOKEN`,
        401,
      );
    case 400:
      return new PostError("rejected", `rejected (400): ${detail}`, 400);
    case 413:
      return new PostError("too_large", `too large (413): ${detail}`, 413);
    case 503:
      return new PostError("unavailable", `unavailable (503): ${detail}`, 503);
    default:
      return new PostError("http", `failed (${res.status}): ${detail}`, res.status);
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } })?.cause;
  if (cause && typeof cause.code === "string")
    return cause.code === "ECONNREFUSED" ? "connection refused" : cause.code;
  return err instanceof Error ? err.message : String(err);
}
