/**
 * @module index
 * The Worker: routes each room's sockets and API calls to that room's
 * Durable Object. It validates everything it can before touching the object,
 * so bad requests never wake a room.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { validator } from "hono/validator";
import { requireBroadcastToken } from "./auth";
import { encodeJoin, JOIN_HEADER, type JoinRequest } from "./chat-room";
import { allowedOrigins, MAX_BODY_BYTES, roomConfig } from "./config";
import { fail, handleError, jsonError } from "./http-errors";
import { originAllowed } from "./origin";
import { checkMessageText } from "./protocol";
import { displayName, flagQuery, intQuery, roomParam } from "./request-params";

export { ChatRoom } from "./chat-room";

const app = new Hono<{ Bindings: Env }>();

app.onError(handleError);
app.notFound(() => jsonError(404, "not found"));

// Only the upgrade is forwarded; the object accepts it with acceptWebSocket so
// it can hibernate. (Hono's upgradeWebSocket helper would pin the Worker.)
const joinRoom = async (c: Context<{ Bindings: Env }>) => {
  const room = roomParam(c);
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
    fail(426, "this is a WebSocket endpoint: connect with a WebSocket client", {
      Upgrade: "websocket",
    });
  if (!originAllowed(c.req.header("Origin"), c.req.url, allowedOrigins(c.env)))
    fail(403, "origin not allowed: add it to ALLOWED_ORIGINS to open sockets from that site");
  const join: JoinRequest = {
    room,
    name: displayName(c.req.query("name"), "name"),
    rich: flagQuery(c, "rich"),
    since: intQuery(c, "since"),
  };
  const forwarded = new Request(c.req.raw);
  forwarded.headers.set(JOIN_HEADER, encodeJoin(join));
  return c.env.CHAT_ROOM.getByName(room).fetch(forwarded);
};
// The tutorial's URL has the trailing slash; hand-typed URLs often don't.
app.get("/ws/chat/:room/", joinRoom);
app.get("/ws/chat/:room", joinRoom);

const api = new Hono<{ Bindings: Env }>();
api.use(secureHeaders(), requireBroadcastToken);

api.get("/rooms/:room", async (c) => {
  const room = roomParam(c);
  return c.json(await c.env.CHAT_ROOM.getByName(room).stats(room));
});

api.get("/rooms/:room/messages", async (c) => {
  const room = roomParam(c);
  const max = roomConfig(c.env).historyLimit;
  const since = intQuery(c, "since");
  const limit = intQuery(c, "limit", max) ?? Math.min(100, max);
  return c.json(await c.env.CHAT_ROOM.getByName(room).history(since, limit));
});

api.post(
  "/rooms/:room/messages",
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => fail(413, `request body is larger than ${MAX_BODY_BYTES} bytes`),
  }),
  validator("json", (body: unknown, c) => {
    if (typeof body !== "object" || body === null || Array.isArray(body))
      fail(400, 'body must be a JSON object like {"message": "hi"}');
    const { message, user } = body as { message?: unknown; user?: unknown };
    if (typeof message !== "string")
      fail(400, 'body needs a string "message" (and Content-Type: application/json)');
    if (user !== undefined && typeof user !== "string") fail(400, '"user" must be a string');
    const checked = checkMessageText(message, roomConfig(c.env).maxMessageChars);
    if (!checked.ok) fail(400, checked.error.message);
    return { message, user: displayName(user, "user") ?? "api" };
  }),
  async (c) => {
    const room = roomParam(c);
    const published = await c.env.CHAT_ROOM.getByName(room).publish(c.req.valid("json"));
    return c.json(published, 201);
  },
);

app.route("/api", api);

export default app satisfies ExportedHandler<Env>;
