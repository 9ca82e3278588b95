import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { TEST_TOKEN } from "./test-env";

export { TEST_TOKEN };
export const ORIGIN = "https://chat.example";

/**
 * True in the "relays" project (ROOM_RELAYS=3): sockets live on relay
 * objects, not on the room object. The few tests that reach into the room
 * object's own sockets skip then (listed in docs/testing.md).
 */
export const RELAYS = Number((env as { ROOM_RELAYS?: string }).ROOM_RELAYS ?? "1") > 1;

export function uniqueRoom(prefix = "room"): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

export function wsPath(room: string, query = ""): string {
  return `/ws/chat/${encodeURIComponent(room)}/${query ? `?${query}` : ""}`;
}

/**
 * A request through the Worker, the way a client on the network would send
 * it. Each comes from its own random address unless the test sets
 * CF-Connecting-IP, so only the rate-limit tests meet the API rate limit.
 */
export function request(path: string, init?: RequestInit): Promise<Response> {
  const req = new Request(`${ORIGIN}${path}`, init);
  if (!req.headers.has("CF-Connecting-IP")) req.headers.set("CF-Connecting-IP", randomAddress());
  return exports.default.fetch(req);
}

export function randomAddress(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c}`;
}

export function api(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("Authorization")) headers.set("Authorization", `Bearer ${TEST_TOKEN}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return request(`/api${path}`, { ...init, headers, body });
}

export function inject(room: string, message: string, user?: string): Promise<Response> {
  return api(`/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    json: user === undefined ? { message } : { message, user },
  });
}

// oxlint-disable-next-line typescript/no-explicit-any -- frames are checked field by field in tests
export type Frame = Record<string, any>;

/** A connected test client that records every frame, so no frame is missed between awaits. */
export class Client {
  readonly frames: Frame[] = [];
  readonly raw: (string | ArrayBuffer)[] = [];
  closed: CloseEvent | null = null;
  #waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      this.raw.push(event.data as string | ArrayBuffer);
      this.frames.push(JSON.parse(event.data as string) as Frame);
      this.#notify();
    });
    ws.addEventListener("close", (event) => {
      this.closed = event;
      this.#notify();
    });
    ws.accept();
  }

  #notify() {
    for (const w of this.#waiters.splice(0)) w();
  }

  chats(): Frame[] {
    return this.frames.filter((f) => f.type === "chat");
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /**
   * Resolves once `predicate` holds for the recorded frames; rejects after
   * `ms` (a wait, not a speed goal: 15 s by default, since two test files run
   * at once on a shared 2-core machine).
   */
  async until(predicate: (c: Client) => boolean, what: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate(this)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  untilChats(n: number, ms?: number) {
    return this.until((c) => c.chats().length >= n, `${n} chat frames`, ms);
  }

  untilType(type: string, n = 1) {
    return this.until((c) => c.ofType(type).length >= n, `${n} "${type}" frames`);
  }

  untilClosed() {
    return this.until((c) => c.closed !== null, "close");
  }

  /** Waits a little and checks nothing else arrived: for "must not receive" assertions. */
  async quiet(ms = 150): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
  }

  close() {
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
  }
}

/** A guest's id and a verified id are different members even when equal. */
const memberKey = (m: Frame) => `${m.verified}:${m.id}`;

/**
 * The members a rich client knows of, by name, sorted: its welcome with the
 * presence diffs and member pages it received since, applied as the protocol
 * documents (a joined member already known or a left one never seen is no change).
 */
export function presentNames(client: Client): string[] {
  const known = new Map<string, string>();
  for (const f of client.frames) {
    if (f.type === "welcome") known.clear();
    if (f.type === "presence") for (const m of f.left as Frame[]) known.delete(memberKey(m));
    if (f.type === "welcome" || f.type === "presence" || f.type === "members")
      for (const m of (f.type === "presence" ? f.joined : f.members) as Frame[])
        known.set(memberKey(m), m.name as string);
  }
  return [...known.values()].toSorted();
}

/** The member count a rich client was last told (welcome, presence or members frame). */
export function presentCount(client: Client): number | null {
  const last = client.frames.findLast((f) => ["welcome", "presence", "members"].includes(f.type));
  return last ? (last.count as number) : null;
}

/** Opens a WebSocket through the Worker's route, exactly as a browser would. */
export async function connect(
  room: string,
  query = "",
  headers: HeadersInit = {},
): Promise<Client> {
  const res = await request(wsPath(room, query), { headers: { Upgrade: "websocket", ...headers } });
  if (res.status !== 101 || !res.webSocket)
    throw new Error(`expected 101, got ${res.status}: ${await res.text()}`);
  return new Client(res.webSocket);
}

export async function connectAll(room: string, n: number, query = ""): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < n; i++) clients.push(await connect(room, query));
  return clients;
}

export function closeAll(clients: Client[]) {
  for (const c of clients) c.close();
}

/** Makes every SQL statement that mentions `fragment` throw, until `restore` is called. */
export async function failSql(room: string, fragment: string): Promise<() => Promise<void>> {
  const stub = env.CHAT_ROOM.getByName(room);
  await runInDurableObject(stub, (_i, state) => {
    const sql = state.storage.sql;
    const exec = sql.exec.bind(sql);
    Object.defineProperty(sql, "exec", {
      configurable: true,
      value: (query: string, ...bindings: unknown[]) => {
        if (query.includes(fragment)) throw new Error(`injected failure: ${fragment}`);
        return exec(query, ...bindings);
      },
    });
  });
  return () =>
    runInDurableObject(stub, (_i, state) => {
      delete (state.storage.sql as { exec?: unknown }).exec;
    });
}
