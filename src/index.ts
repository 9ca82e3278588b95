/**
 * @module index
 * The Worker: routes each room's sockets and API calls to that room's
 * Durable Object. It validates everything it can before touching the object,
 * so bad requests never wake a room.
 */
import { Hono, type Context } from "hono";
import { api } from "./api-routes";
import { encodeJoin, JOIN_HEADER, type JoinRequest } from "./chat-room";
import { allowedOrigins } from "./config";
import { fail, handleError, jsonError } from "./http-errors";
import { originAllowed } from "./origin";
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

app.route("/api", api);

export default app satisfies ExportedHandler<Env>;
