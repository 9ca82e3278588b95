/**
 * @module hook-receiver
 * The benchmark's publish hook: a plain Node HTTP server on 127.0.0.1 that
 * checks each call's signature (HMAC-SHA256 of the body, as a site would)
 * and answers "allow". What it costs the room is the round trip, not the
 * site's own work.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

/**
 * Starts the receiver; `url` goes into PUBLISH_HOOK_URL.
 * @param {string} secret WEBHOOK_SECRET
 * @returns {Promise<{ url: string, calls: () => number, badSignatures: () => number, stop: () => Promise<void> }>}
 */
export function startHookReceiver(secret) {
  let calls = 0;
  let bad = 0;
  const server = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      calls++;
      const body = Buffer.concat(chunks);
      const expected = createHmac("sha256", secret).update(body).digest();
      const given = Buffer.from(String(req.headers["x-pusher-signature"] ?? ""), "hex");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        bad++;
        return void res.writeHead(401).end();
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"action":"allow"}');
    });
  });
  // Keep-alive as long as the room may reuse a connection.
  server.keepAliveTimeout = 60_000;
  return new Promise((done) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      done({
        url: `http://127.0.0.1:${port}/hooks/publish`,
        calls: () => calls,
        badSignatures: () => bad,
        stop: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r(undefined));
          }),
      });
    }),
  );
}
