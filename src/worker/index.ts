/**
 * @module index
 * The Worker: routes each room's sockets and API calls to that room's
 * Durable Object. It validates everything it can before touching the object,
 * so bad requests never wake a room.
 */
import { Hono, type Context } from "hono";
import { api } from "./api-routes";
import { encodeJoin, JOIN_HEADER, type JoinRequest } from "../room/chat-room";
import { addressKey } from "./client-address";
import { allowedOrigins, roomConfig, roomRelays } from "../config";
import { guestIdFor } from "../identity/guest-key";
import { fail, handleError, jsonError } from "./http-errors";
import { verifyJoinToken, type Identity } from "../identity/join-token";
import { originAllowed } from "./origin";
import { pages } from "./pages";
import { isPrivateRoom } from "../identity/room-name";
import { displayName, flagQuery, intQuery, missingRoom, roomParam } from "./request-params";
import { relayFor } from "./relay-choice";
import { relayName } from "../room/relay-links";

export { ChatRoom } from "../room/chat-room";
export { RoomRelay } from "../relay/room-relay";

const app = new Hono<{ Bindings: Env }>();

app.onError(handleError);
app.notFound(() => jsonError(404, "not found"));

// Only the upgrade is forwarded; the object accepts it with acceptWebSocket so
// it can hibernate. (Hono's upgradeWebSocket helper would pin the Worker.)
// Every check runs before the Upgrade check, so a page whose socket was
// refused can GET the same URL and read why (426 means nothing is wrong).
const joinRoom = async (c: Context<{ Bindings: Env }>) => {
  const room = roomParam(c);
  if (!originAllowed(c.req.header("Origin"), c.req.url, allowedOrigins(c.env)))
    fail(403, "origin not allowed: add it to ALLOWED_ORIGINS to open sockets from that site");
  const guestKey = c.req.query("guest");
  // Guest ids are derived with BROADCAST_TOKEN; a server without it (never
  // under `npm run dev` or a deploy: both require it) cannot derive them.
  if (guestKey && !c.env.BROADCAST_TOKEN)
    fail(503, "guest keys are disabled: BROADCAST_TOKEN is not configured on the server");
  const guest = await guestIdFor(guestKey, room, c.env.BROADCAST_TOKEN);
  if (!guest.ok) fail(400, `invalid guest: ${guest.error}`);
  const join: JoinRequest = {
    name: displayName(c.req.query("name"), "name", roomConfig(c.env).maxNameChars),
    guestId: guest.value,
    identity: await identity(c, room),
    rich: flagQuery(c, "rich"),
    batch: flagQuery(c, "batch"),
    since: intQuery(c, "since"),
    epoch: intQuery(c, "epoch"),
    // Set by Cloudflare's edge (and by wrangler dev); limits follow it across
    // reconnects, and an IPv6 client's whole /64 counts as one address.
    address: addressKey(c.req.header("CF-Connecting-IP")),
  };
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
    fail(426, "this is a WebSocket endpoint: connect with a WebSocket client", {
      Upgrade: "websocket",
    });
  // A new request with only what the room reads, rather than a copy of every header.
  const init = { headers: { Upgrade: "websocket", [JOIN_HEADER]: encodeJoin(join) } };
  const relays = roomRelays(c.env);
  if (relays === 1) return c.env.CHAT_ROOM.getByName(room).fetch(c.req.url, init);
  // A big room: the member's relay holds the socket and the room orders (src/relay/).
  const relay = relayFor(join.identity?.id ?? join.guestId, relays);
  return c.env.ROOM_RELAY.getByName(relayName(room, relay)).fetch(c.req.url, init);
};
/** The signed identity from `?token=`, or null; private rooms require one. */
async function identity(c: Context<{ Bindings: Env }>, room: string): Promise<Identity | null> {
  const token = c.req.query("token");
  if (token === undefined || token === "") {
    if (!isPrivateRoom(room)) return null;
    if (!c.env.JOIN_SECRET)
      fail(503, "private rooms are disabled: JOIN_SECRET is not configured on the server");
    fail(401, "this room is private: join with ?token=<join token for this room>");
  }
  const checked = await verifyJoinToken(
    token,
    c.env.JOIN_SECRET,
    room,
    roomConfig(c.env).maxNameChars,
  );
  if (!checked.ok) fail(checked.status, checked.error);
  return checked.identity;
}

// The tutorial's URL has the trailing slash; hand-typed URLs often don't.
app.get("/ws/chat/:room/", joinRoom);
app.get("/ws/chat/:room", joinRoom);

app.route("/api", api);

const noRoom = () => missingRoom("/ws/chat/<room>/");
app.get("/ws/*", noRoom);
app.get("/ws", noRoom);
// "/api/rooms/.." arrives as "/api/"; the sub-app's own paths end at "/api".
app.all("/api/", () => missingRoom("/api/rooms/<room>"));
app.route("/", pages);

export default app satisfies ExportedHandler<Env>;
