/**
 * The raw `ws` reference for `npm run bench`: one Node process, rooms by URL
 * path, every received text frame sent to every socket of the room, and
 * POST /inject/<room> broadcasting the request body. ?batch=1 sockets get
 * messages coalesced per event-loop turn, newline-separated, like the
 * minimal room's BatchRoom.
 *
 * Usage: node bench/raw-server.mjs <port>   (prints "listening <port>")
 */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? 0);

/** @typedef {{ plain: Set<import("ws").WebSocket>, batch: Set<import("ws").WebSocket>, pending: Buffer[] }} Room */
/** @type {Map<string, Room>} */
const rooms = new Map();

/** @param {string} name @returns {Room} */
function room(name) {
  let r = rooms.get(name);
  if (!r) rooms.set(name, (r = { plain: new Set(), batch: new Set(), pending: [] }));
  return r;
}

/** @param {Room} r @param {Buffer} data */
function broadcast(r, data) {
  for (const ws of r.plain) ws.send(data, { binary: false });
  if (r.batch.size === 0) return;
  if (r.pending.push(data) === 1)
    setImmediate(() => {
      const frame = Buffer.concat(r.pending.flatMap((b, i) => (i ? [NEWLINE, b] : [b])));
      r.pending = [];
      for (const ws of r.batch) ws.send(frame, { binary: false });
    });
}
const NEWLINE = Buffer.from("\n");

/** @param {string | undefined} url */
function parse(url) {
  const u = new URL(url ?? "/", "http://x");
  return { path: u.pathname, batch: u.searchParams.get("batch") === "1" };
}

const wss = new WebSocketServer({ noServer: true });
const server = createServer((req, res) => {
  const m = /^\/inject\/([^/]+)$/.exec(parse(req.url).path);
  if (!m || req.method !== "POST") {
    res.writeHead(404).end();
    return;
  }
  /** @type {Buffer[]} */
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    broadcast(room(decodeURIComponent(m[1] ?? "")), Buffer.concat(chunks));
    res.writeHead(204).end();
  });
});

server.on("upgrade", (req, socket, head) => {
  const { path, batch } = parse(req.url);
  const m = /^\/ws\/chat\/([^/]+)\/?$/.exec(path);
  if (!m) {
    socket.destroy();
    return;
  }
  const r = room(decodeURIComponent(m[1] ?? ""));
  wss.handleUpgrade(req, socket, head, (ws) => {
    const set = batch ? r.batch : r.plain;
    set.add(ws);
    ws.on("message", (data, isBinary) => {
      if (!isBinary) broadcast(r, /** @type {Buffer} */ (data));
    });
    ws.on("close", () => set.delete(ws));
    ws.on("error", () => set.delete(ws));
  });
});

server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  console.log(`listening ${typeof addr === "object" && addr ? addr.port : port}`);
});
process.on("SIGTERM", () => process.exit(0));
