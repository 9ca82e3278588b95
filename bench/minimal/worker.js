// The minimal room of the benchmark (see ../FINDINGS.md): GET /ws/chat/<room>/
// upgrades, POST /inject/<room> broadcasts the body. MinimalRoom is the
// reference: accept, then send every received string to every socket.
//
// Variants for the investigation, chosen per request (a room exists in one
// variant only, so all its sockets must use the same query):
//   ?batch=1       BatchRoom, the batching prototype: messages that arrive
//                  while a flush is pending go out together, newline-separated,
//                  in one frame
//   ?api=cached    CachedRoom: keeps its sockets in a Set instead of calling
//                  ctx.getWebSockets() for every message (as the project does)
//   ?api=accept    AcceptRoom: the non-hibernatable API (server.accept() and a
//                  "message" listener), to price the hibernation API
import { DurableObject } from "cloudflare:workers";

export class MinimalRoom extends DurableObject {
  /** @param {Request} request */
  async fetch(request) {
    if (request.method === "POST") {
      this.broadcast(await request.text());
      return new Response(null, { status: 204 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** @param {WebSocket} _ws @param {string | ArrayBuffer} message */
  webSocketMessage(_ws, message) {
    this.broadcast(message);
  }

  /** @param {WebSocket} ws @param {number} code @param {string} reason */
  webSocketClose(ws, code, reason) {
    try {
      ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
    } catch {
      // already closed by the runtime
    }
  }

  /** @param {string | ArrayBuffer} message */
  broadcast(message) {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(message);
      } catch {
        // closing socket
      }
    }
  }
}

/** The batching prototype: one frame per flush, several messages in it. */
export class BatchRoom extends MinimalRoom {
  /** @type {string[]} */
  #pending = [];
  #scheduled = false;

  /** @param {string | ArrayBuffer} message */
  broadcast(message) {
    if (typeof message !== "string") return;
    this.#pending.push(message);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // A macrotask: every message already queued for this object is taken in
    // before the flush, so a busy room sends fewer, larger frames and an idle
    // one sends at once.
    setTimeout(() => this.#flush(), 0);
  }

  #flush() {
    this.#scheduled = false;
    const frame = this.#pending.join("\n");
    this.#pending = [];
    super.broadcast(frame);
  }
}

/** Same as MinimalRoom, but iterates its own Set of sockets. */
export class CachedRoom extends MinimalRoom {
  /** @type {Set<WebSocket>} */
  sockets = new Set(this.ctx.getWebSockets());

  /** @param {Request} request */
  async fetch(request) {
    if (request.method === "POST") {
      this.broadcast(await request.text());
      return new Response(null, { status: 204 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    this.sockets.add(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** @param {WebSocket} ws @param {number} code @param {string} reason */
  webSocketClose(ws, code, reason) {
    this.sockets.delete(ws);
    super.webSocketClose(ws, code, reason);
  }

  /** @param {string | ArrayBuffer} message */
  broadcast(message) {
    for (const ws of this.sockets) {
      try {
        ws.send(message);
      } catch {
        this.sockets.delete(ws);
      }
    }
  }
}

/** The regular (non-hibernatable) WebSocket API: the object stays in memory with its sockets. */
export class AcceptRoom extends DurableObject {
  /** @type {Set<WebSocket>} */
  sockets = new Set();

  /** @param {Request} request */
  async fetch(request) {
    if (request.method === "POST") {
      this.broadcast(await request.text());
      return new Response(null, { status: 204 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    this.sockets.add(server);
    server.addEventListener("message", (event) => this.broadcast(event.data));
    server.addEventListener("close", (event) => {
      this.sockets.delete(server);
      try {
        server.close(event.code === 1005 || event.code === 1006 ? 1000 : event.code, event.reason);
      } catch {
        // already closed
      }
    });
    server.addEventListener("error", () => this.sockets.delete(server));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** @param {string | ArrayBuffer} message */
  broadcast(message) {
    for (const ws of this.sockets) {
      try {
        ws.send(message);
      } catch {
        this.sockets.delete(ws);
      }
    }
  }
}

export default {
  /** @param {Request} request @param {Record<string, DurableObjectNamespace>} env */
  fetch(request, env) {
    const url = new URL(request.url);
    const ws = /^\/ws\/chat\/([^/]+)\/?$/.exec(url.pathname);
    const inject = /^\/inject\/([^/]+)$/.exec(url.pathname);
    if (ws && request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return new Response("WebSocket endpoint", { status: 426 });
    const room = ws?.[1] ?? (request.method === "POST" ? inject?.[1] : undefined);
    if (room === undefined) return new Response("not found", { status: 404 });
    const api = url.searchParams.get("api");
    const ns =
      url.searchParams.get("batch") === "1"
        ? env.BATCH_ROOM
        : api === "cached"
          ? env.CACHED_ROOM
          : api === "accept"
            ? env.ACCEPT_ROOM
            : env.ROOM;
    return /** @type {DurableObjectNamespace} */ (ns)
      .getByName(decodeURIComponent(room))
      .fetch(request);
  },
};
