/**
 * @module chat-room
 * One Durable Object per room: it owns the room's sockets, member set,
 * message ids and history, and is the only place a room's messages are
 * ordered, so every member sees the same sequence.
 */
import { DurableObject } from "cloudflare:workers";
import { ActivityLog } from "./activity-log";
import { AnswerLimits, answersPerWindow } from "./answer-limits";
import { roomConfig, roomRelays, type RoomConfig } from "../config";
import { BanStore, type MemberKind } from "./ban-store";
import { guestName } from "../identity/display-name";
import { KEYED_GUEST_ID } from "../identity/guest-key";
import { FanOut, tagsFor } from "./fan-out";
import { IdempotencyStore } from "./idempotency-store";
import type { Identity } from "../identity/join-token";
import { logger, type Log } from "../log";
import { clientScope, MessageStore } from "./message-store";
import { MEMBER_PAGE, Roster, type MemberInfo, type MemberPage } from "./presence";
import { PublishHook, type HookAnswer, type HookAsk } from "./publish-hook";
import { RecentFrames } from "./recent-frames";
import {
  RelayLinks,
  relayName,
  RemoteSocket,
  type RelayMember,
  type RelayStub,
} from "./relay-links";
import { closeQuietly, trySend } from "./sockets";
import { RoomWebhooks, webhookSettings } from "../webhooks/room-webhooks";
import { SendLimits, senderKeys } from "./send-limits";
import { parseAck, SlowConsumers } from "./slow-consumers";
import { scheduleAlarm } from "../alarm-schedule";
import { deleteRoomStorage, markEmptied, PURGE_EVERY_MS, retentionVerdict } from "./retention";
import { hasTables } from "../sql-tables";
import { toHex } from "../text";
import {
  CLOSE_BANNED,
  CLOSE_REMOVED,
  CLOSE_ROOM_UNREACHABLE,
  CLOSE_SEND_FAILED,
  CLOSE_SLOW,
  checkMessageText,
  parseClientFrame,
  rateLimitedFrame,
  serialize,
  type ChatMessage,
  type HistoryGapFrame,
  type HistoryResetFrame,
  type Member,
  type ServerFrame,
} from "../protocol";

/** What the Worker has already validated about a joining socket. */
export interface JoinRequest {
  /** Self-chosen `?name=`; ignored when a join token gives an identity. */
  name: string | null;
  /** A guest's member id derived from its `?guest=` key; null: a fresh one per connection. */
  guestId: string | null;
  /** From a verified join token: fixes the member's id and name. */
  identity: Identity | null;
  /** Opted in to presence and other rich frames. */
  rich: boolean;
  /** Opted in to batched frames: several chat frames per WebSocket message, newline-separated. */
  batch: boolean;
  /** Replay messages after this id instead of the latest HISTORY_ON_JOIN. */
  since: number | null;
  /** The room's epoch `since` was read in (a welcome's `epoch`); another epoch means ids restarted. */
  epoch?: number | null;
  /** The client's address (CF-Connecting-IP): guests' limits follow it. */
  address: string | null;
}

export const JOIN_HEADER = "X-Chat-Join";

/** History for a batch client goes out in frames of this many messages. */
export const HISTORY_FRAMES_PER_BATCH = 100;
/** Newest chat frames kept serialised in memory for joiners, at least (see RecentFrames). */
const RECENT_FRAMES = 200;
/** Presence frames go out at most this often: quick in small rooms, few in big ones. */
const PRESENCE_SMALL_MS = 50;
const PRESENCE_BIG_MS = 250;

/** Headers must be ASCII; names and rooms are not. */
export function encodeJoin(join: JoinRequest): string {
  return encodeURIComponent(JSON.stringify(join));
}

/** The join the Worker encoded with encodeJoin, or null without one. */
export function decodeJoin(header: string | null): JoinRequest | null {
  return header === null ? null : (JSON.parse(decodeURIComponent(header)) as JoinRequest);
}

/** Per-socket state that must survive hibernation; kept small on purpose. */
export interface Attachment extends Member {
  rich: boolean;
  batch?: boolean;
  address?: string | null;
  /** The member's place in join order: member-list cursors mean the same after a wake. */
  seq?: number;
  /** Asked for the member list past the welcome's: sent every join and leave from then on. */
  everyone?: boolean;
  /** A guest with a `?guest=` key: its clientIds are its own, not the room's. */
  keyed?: boolean;
  /** The epoch the member was welcomed with: a room without storage keeps its promise across a wake. */
  epoch?: number;
}

type Session = Attachment;

export interface RoomStats {
  room: string;
  members: number;
  names: string[];
  lastId: number;
  /** With ROOM_RELAYS > 1: the relays that hold members' sockets now, and how many each. */
  relays?: { relay: number; sockets: number }[];
}

/**
 * What a relay holds for a joiner resuming with `since`: the frames of ids
 * `since` + 1 … `last`, stored in `epoch`, copied when it asked (RoomRelay).
 */
export interface RelayHeld {
  epoch: number;
  last: number;
}

/** The room's answer to a relay asking it to admit a socket. */
export type RelayJoinAnswer =
  | {
      ok: true;
      /** What the relay keeps on the socket (and reports back when the room wakes). */
      attachment: Attachment;
      /** The welcome and a gap or reset frame, ready to send as they are. */
      frames: string[];
      /**
       * How many of the frames the relay said it holds come first in the
       * history (0: none, the room sends all of it).
       */
      fromRelay: number;
      /** The rest of the history, one chat frame each, after the relay's. */
      history: string[];
      /** The history reaches up to this id; live frames after it follow. */
      lastId: number;
      epoch: number;
    }
  | { ok: false; status: number; body: string; retryAfter: string | null };

/** Frames from members and sockets that closed, sent by a relay in one RPC. */
export interface RelayEvents {
  frames: [sid: string, data: string | ArrayBuffer][];
  left: string[];
}

/** Stored frames after an id, for a relay filling a gap. */
export interface FramesAfter {
  epoch: number;
  lastId: number;
  /** Consecutive frames from `firstId` (history may have been trimmed before it). */
  firstId: number;
  frames: string[];
}

/** One message for the inject API, already validated by the Worker. */
export interface Injection {
  message: string;
  user: string;
}

export interface Injected {
  ids: number[];
  /** Sockets that received the (last) message. */
  delivered: number;
  /** True when this is the remembered answer to an earlier request with the same key. */
  replayed: boolean;
}

export interface IdempotencyKey {
  key: string;
  /** Hash of the request body, so a key reused for a different body is caught. */
  fingerprint: string;
}

/** A page of the members API. */
export interface MembersPage extends MemberPage<MemberInfo> {
  /** Members in the room (one per member, however many sockets), not only on this page. */
  count: number;
}

/** An answer of the history API. */
export interface HistoryPage {
  messages: ChatMessage[];
  lastId: number;
  oldestId: number | null;
  /** The room's epoch (see WelcomeFrame): ids are comparable only within one. */
  epoch: number;
  /** The `epoch` asked with is not the room's: ids restarted, `messages` start from the first kept. */
  reset?: true;
}

export interface Removed {
  disconnected: number;
  bannedUntil: string | null;
}

/** A moderation request the room cannot carry out as asked, and why. */
export interface RemovalRefused {
  refused: 409 | 422;
  error: string;
}

/** After a feature of alarm() failed, the alarm comes back this soon to try again. */
const ALARM_RETRY_MS = 5 * 60 * 1000;

export class ChatRoom extends DurableObject<Env> {
  #config: RoomConfig;
  #store: MessageStore;
  #idempotency: IdempotencyStore;
  #bans: BanStore;
  /** The name this object was created with (`idFromName`). */
  #room: string;
  #log: Log;
  /** Occupancy and membership webhooks; null when WEBHOOK_URL is unset. */
  #webhooks: RoomWebhooks | null = null;
  /** Cache of the accepted sockets' attachments; rebuilt after hibernation. */
  #sessions = new Map<WebSocket, Session>();
  #fanOut: FanOut;
  #roster = new Roster();
  /** Open sockets per client address, for MAX_CONNECTIONS_PER_ADDRESS. */
  #perAddress = new Map<string, number>();
  #presenceTimer: ReturnType<typeof setTimeout> | null = null;
  #recent: RecentFrames;
  #activity: ActivityLog;
  /** Member-list pages asked for, limited per sender like messages (memory only). */
  #pageLimits: SendLimits;
  #sendLimits: SendLimits;
  #slow: SlowConsumers;
  /** Asks the site about each member message before it is stored; null when PUBLISH_HOOK_URL is unset. */
  #hook: PublishHook | null;
  /** Errors and receipts per socket: a socket cannot make the room answer without end. */
  #answers: AnswerLimits;
  #slowCheckScheduled = false;
  /** Relay objects this room's sockets are spread over (ROOM_RELAYS); 1 = none, all here. */
  #relayCount: number;
  /** Pushes to relays; null with one relay (the room holds every socket itself). */
  #links: RelayLinks | null = null;
  /** Sockets held by relays, by `<relay>/<sid>`. */
  #remote = new Map<string, RemoteSocket>();

  /** False once retention deleted the storage: the next request starts from empty stores. */
  #storageOpen = true;
  /**
   * The room has tables (a message, a ban, a remembered answer, webhook
   * state). Tables and the retention alarm come with the first write: a room
   * that was only joined keeps nothing.
   */
  #hasStorage: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = roomConfig(env);
    this.#room = ctx.id.name ?? "";
    this.#log = logger(env.LOG_LEVEL);
    this.#hasStorage = hasTables(ctx.storage.sql);
    this.#relayCount = roomRelays(env);
    if (this.#relayCount > 1) this.#links = this.#newLinks();
    this.#store = new MessageStore(ctx.storage.sql, this.#config.historyLimit, this.#firstWrite);
    this.#idempotency = new IdempotencyStore(ctx.storage.sql, this.#firstWrite);
    this.#bans = new BanStore(ctx.storage.sql, this.#firstWrite);
    // Every room with storage keeps an alarm, so an abandoned one is deleted;
    // a room without storage has nothing to delete and needs none.
    if (this.#hasStorage) void ctx.blockConcurrencyWhile(() => this.#scheduleRetention());
    this.#slow = this.#newSlowConsumers();
    this.#answers = new AnswerLimits(
      answersPerWindow(this.#config.rateLimitMessages),
      this.#config.rateLimitWindowMs,
    );
    this.#sendLimits = new SendLimits({
      perSender: this.#config.rateLimitMessages,
      perAddress: this.#config.rateLimitAddressMessages,
      windowMs: this.#config.rateLimitWindowMs,
    });
    this.#pageLimits = new SendLimits({
      perSender: this.#config.rateLimitMessages,
      perAddress: this.#config.rateLimitAddressMessages,
      windowMs: this.#config.rateLimitWindowMs,
    });
    this.#fanOut = new FanOut(ctx, (ws) => this.#drop(ws, CLOSE_SEND_FAILED, "send failed"));
    this.#recent = new RecentFrames(
      Math.min(this.#config.historyLimit, Math.max(this.#config.historyOnJoin, RECENT_FRAMES)),
    );
    this.#activity = new ActivityLog(this.#log, this.#room, () => this.#roster.count);
    this.#hook = PublishHook.fromEnv(env, this.#config, this.#room, this.#log, (ask, answer) =>
      this.#hookAnswered(ask, answer),
    );
    // Answered by the runtime without waking the object, so keep-alives
    // don't defeat hibernation.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    const woken = ctx.getWebSockets().flatMap((ws) => {
      const attachment = ws.deserializeAttachment() as Attachment | null;
      return attachment ? [{ ws, attachment }] : [];
    });
    // Back in join order, so the roster's places and cursors are as before.
    woken.sort((x, y) => joinPlace(x.attachment) - joinPlace(y.attachment));
    for (const { ws, attachment } of woken) this.#addSession(ws, attachment);
    // A wake rebuilds what every member already knows: nothing to announce.
    this.#roster.settle();
    const webhooks = webhookSettings(env);
    if (!webhooks.ok) this.#log("error", { room: this.#room, error: webhooks.error });
    else if (webhooks.value)
      this.#webhooks = new RoomWebhooks(ctx.storage, this.#room, webhooks.value, this.#log);
    // Relays hold the members' sockets: after a wake the room asks them who
    // is here before it serves anything (and before webhooks compare).
    if (this.#links) void ctx.blockConcurrencyWhile(() => this.#rejoinRelays());
    else this.#reconcileWebhooks();
  }

  #reconcileWebhooks(): void {
    this.#webhooks?.reconcile(
      [...this.#sessions.values()].map((s) => s.id),
      Date.now(),
    );
  }

  #newLinks(): RelayLinks {
    return new RelayLinks(
      (i) => this.env.ROOM_RELAY.getByName(relayName(this.#room, i)) as unknown as RelayStub,
      () => ({ epoch: this.#store.epoch, lastId: this.#store.lastId }),
      (relay, err) => this.#log("error", { room: this.#room, relay, error: errorName(err) }),
    );
  }

  /** Rebuilds the members held by relays after the room woke, in join order. */
  async #rejoinRelays(): Promise<void> {
    const links = this.#links!;
    const held: { relay: number; member: RelayMember }[] = [];
    for (const { relay, members } of await links.rosters(this.#relayCount))
      for (const member of members) held.push({ relay, member });
    held.sort(
      (x, y) =>
        joinPlace(x.member.attachment as Attachment) - joinPlace(y.member.attachment as Attachment),
    );
    for (const { relay, member } of held)
      this.#addSession(
        new RemoteSocket(relay, member.sid, links) as unknown as WebSocket,
        member.attachment as Attachment,
      );
    this.#roster.settle();
    this.#reconcileWebhooks();
  }

  /**
   * Admits a socket that relay `relay` holds (ROOM_RELAYS > 1): the same
   * refusals, roster and webhooks as a socket of its own, and the welcome
   * and history it is owed, serialised, for the relay to send. A resume
   * whose missed frames the relay holds (`held`) is answered with only what
   * the relay lacks: the room reads none of its history for it.
   */
  async relayJoin(
    relay: number,
    sid: string,
    join: JoinRequest,
    held: RelayHeld | null = null,
  ): Promise<RelayJoinAnswer> {
    await this.#reopenStorage();
    const refusal = this.#refusal(join);
    if (refusal)
      return {
        ok: false,
        status: refusal.status,
        body: await refusal.text(),
        retryAfter: refusal.headers.get("Retry-After"),
      };
    const fromRelay = this.#heldByRelay(join, held);
    const replay =
      fromRelay > 0
        ? { frames: this.#framesAfter(join.since! + fromRelay), gap: null }
        : this.#replayFor(join);
    const ws = new RemoteSocket(relay, sid, (this.#links ??= this.#newLinks()));
    const { member, attachment } = this.#memberFor(join);
    this.#addSession(ws as unknown as WebSocket, attachment);
    this.#schedulePresence();
    const frames: string[] = [];
    if (join.rich) {
      frames.push(JSON.stringify(this.#welcome(member, fromRelay + replay.frames.length)));
      if (replay.gap) frames.push(JSON.stringify(replay.gap));
    }
    try {
      this.#webhooks?.joined(member.id, Date.now());
    } catch (err) {
      this.#log("error", { room: this.#room, webhook: "joined", error: errorName(err) });
    }
    this.#activity.connected();
    if (fromRelay > 0) this.#activity.resumedOnRelay();
    return {
      ok: true,
      attachment,
      frames,
      fromRelay,
      history: replay.frames,
      lastId: this.#store.lastId,
      epoch: this.#store.epoch,
    };
  }

  /**
   * Frames from a relay's members, in the order they sent them, and the
   * sockets that closed there. A frame from a socket the room does not know
   * (it woke and the relay did not answer) closes it: it rejoins.
   */
  async relayEvents(relay: number, events: RelayEvents): Promise<void> {
    await this.#reopenStorage();
    for (const [sid, data] of events.frames) {
      const ws = this.#remote.get(remoteKey(relay, sid));
      if (ws) this.webSocketMessage(ws as unknown as WebSocket, data);
      else
        new RemoteSocket(relay, sid, (this.#links ??= this.#newLinks())).close(
          CLOSE_ROOM_UNREACHABLE,
          "the room lost track of this connection: reconnect with since",
        );
    }
    for (const sid of events.left) {
      const ws = this.#remote.get(remoteKey(relay, sid));
      if (ws) this.#leave(ws as unknown as WebSocket);
    }
  }

  /** Stored frames after `since` (up to HISTORY_LIMIT), for a relay filling a gap. */
  async framesAfter(since: number): Promise<FramesAfter> {
    await this.#reopenStorage();
    const lastId = this.#store.lastId;
    const epoch = this.#store.epoch;
    if (!this.#recent.loaded) this.#recent.load(this.#store.latest(this.#recent.capacity));
    const cached = this.#recent.after(since, this.#config.historyLimit, lastId);
    if (cached) return { epoch, lastId, firstId: since + 1, frames: cached };
    const messages = this.#store.after(since, this.#config.historyLimit);
    return {
      epoch,
      lastId,
      firstId: messages[0]?.id ?? since + 1,
      frames: messages.map(serialize),
    };
  }

  /** Accepts a WebSocket upgrade forwarded by the Worker. */
  override async fetch(request: Request): Promise<Response> {
    await this.#reopenStorage();
    const join = decodeJoin(request.headers.get(JOIN_HEADER));
    if (!join || request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return new Response("expected a WebSocket upgrade from the Worker", { status: 400 });

    // Everything that reads storage (bans, history) runs before the socket is
    // accepted: if it throws, the join fails whole and nobody is counted.
    const refusal = this.#refusal(join);
    if (refusal) return refusal;
    // From here on nothing awaits, so no message can be stored between the
    // history the joiner gets and its first live broadcast: no gap, no
    // duplicate at the seam.
    const replay = this.#replayFor(join);
    const { 0: client, 1: server } = new WebSocketPair();
    const member = this.#admit(server, join);
    this.#catchUp(server, join, member, replay);
    try {
      this.#webhooks?.joined(member.id, Date.now());
    } catch (err) {
      // The member is in: a webhook outbox that cannot be written must not undo that.
      this.#log("error", { room: this.#room, webhook: "joined", error: errorName(err) });
    }
    this.#activity.connected();
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A full room, an address over its socket cap or a banned member: the answer, or null. */
  #refusal(join: JoinRequest): Response | null {
    if (this.#sessions.size >= this.#config.maxRoomConnections) {
      this.#log("refused", { room: this.#room, reason: "room full", members: this.#sessions.size });
      return Response.json(
        { error: `this room is full: at most ${this.#config.maxRoomConnections} connections` },
        { status: 503, headers: { "Retry-After": "30" } },
      );
    }
    // Counted from the attachments (rebuilt on every wake), not with
    // getWebSockets(tag), which builds an array of every socket of the
    // address on each join: O(N) per join when many share one address.
    if (
      join.address !== null &&
      (this.#perAddress.get(join.address) ?? 0) >= this.#config.maxConnectionsPerAddress
    ) {
      this.#log("refused", { room: this.#room, reason: "address full" });
      return Response.json(
        {
          error: `too many connections from your address to this room: at most ${this.#config.maxConnectionsPerAddress}`,
        },
        { status: 429, headers: { "Retry-After": "30" } },
      );
    }
    // A keyless guest's id is new on every connection: nothing to check.
    const [kind, id]: [MemberKind, string | null] = join.identity
      ? ["verified", join.identity.id]
      : ["guest", join.guestId];
    if (id !== null) {
      const until = this.#bans.bannedUntil(kind, id, Date.now());
      if (until !== null) {
        this.#log("refused", { room: this.#room, member: id, kind, reason: "banned" });
        return Response.json(
          { error: `banned from this room until ${new Date(until).toISOString()}` },
          { status: 403 },
        );
      }
    }
    return null;
  }

  /** Accepts the socket and adds its member to the room's set; presence follows in the next diff. */
  #admit(server: WebSocket, join: JoinRequest): Member {
    const { member, attachment } = this.#memberFor(join);
    // Pending batched frames hold messages the joiner's history will carry:
    // send them to the others first, so nobody gets one twice.
    this.#fanOut.flush();
    this.ctx.acceptWebSocket(server, tagsFor(join));
    this.#addSession(server, attachment);
    server.serializeAttachment(attachment);
    this.#schedulePresence();
    return member;
  }

  /** Who a join makes of its socket, and what its socket keeps across a wake. */
  #memberFor(join: JoinRequest): { member: Member; attachment: Attachment } {
    const member: Member = join.identity
      ? { ...join.identity, verified: true }
      : { id: join.guestId ?? newConnectionId(), name: join.name ?? guestName(), verified: false };
    const attachment: Attachment = {
      ...member,
      rich: join.rich,
      batch: join.batch,
      address: join.address,
    };
    if (!join.identity && join.guestId !== null) attachment.keyed = true;
    attachment.epoch = this.#store.promiseEpoch(undefined);
    return { member, attachment };
  }

  /** The welcome frame for a rich joiner owed `history` messages. */
  #welcome(member: Member, history: number): ServerFrame {
    const first = this.#roster.firstPage();
    return {
      type: "welcome",
      room: this.#room,
      you: member,
      members: first.members,
      count: this.#roster.count,
      more: first.next,
      lastId: this.#store.lastId,
      epoch: this.#store.epoch,
      history,
    };
  }

  /** The welcome (rich members only), then the history the joiner is owed (read before admitting); all of it counts against its budget. */
  #catchUp(
    server: WebSocket,
    join: JoinRequest,
    member: Member,
    replay = this.#replayFor(join),
  ): void {
    const history = replay.frames.reduce((sum, f) => sum + f.length, 0);
    if (this.#slow.joined(server, history, join.since === null)) this.#checkSlowSoon();
    if (join.rich) {
      this.#send(server, this.#welcome(member, replay.frames.length));
      if (replay.gap) this.#send(server, replay.gap);
    }
    const perFrame = join.batch ? HISTORY_FRAMES_PER_BATCH : 1;
    for (let i = 0; i < replay.frames.length; i += perFrame)
      trySend(
        server,
        perFrame === 1 ? replay.frames[i]! : replay.frames.slice(i, i + perFrame).join("\n"),
      );
  }

  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
    const session = this.#sessions.get(ws);
    if (!session) return;
    const ack = parseAck(data);
    if (ack !== null) return this.#slow.ack(ws, ack);
    const parsed = parseClientFrame(data, this.#config.maxMessageChars);
    if (!parsed.ok) return this.#answer(ws, parsed.error);
    if ("members" in parsed) return this.#sendMembers(ws, session, parsed.members.cursor);
    const { clientId } = parsed;
    // A resend of a message the room has is answered with its receipt before
    // the send limit is counted: a page catching up after a drop is not
    // flooding. Receipts are answers, limited per socket like errors.
    const kept =
      clientId === undefined
        ? null
        : this.#store.byClientId(clientScope(session), clientId, session.id);
    if (kept) return this.#answer(ws, { type: "chat", ...kept });
    if (!this.#sendLimits.allow(senderKeys(session, session.address ?? null), Date.now())) {
      const limited = rateLimitedFrame(
        this.#config.rateLimitWindowMs,
        this.#config.rateLimitMessages,
      );
      return this.#answer(ws, clientId === undefined ? limited : { ...limited, clientId });
    }
    if (this.#hook) return this.#hook.submit(ws, toMember(session), parsed.message, clientId);
    this.#publish(session, parsed.message, clientId, ws);
  }

  /** The publish hook's verdict, in the sender's order: stored as answered, or refused. */
  #hookAnswered({ ws, clientId }: HookAsk, answer: HookAnswer): void {
    const session = this.#sessions.get(ws);
    // Closed or removed by a moderator while the site was asked: not sent.
    if (!session) return;
    if (!answer.ok) return this.#answer(ws, answer.error);
    this.#publish({ ...session, name: answer.user }, answer.message, clientId, ws);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.#leave(ws);
    // Always answer, even a connection that died without a close frame (1006):
    // until close() is called the runtime keeps the connection's file
    // descriptors, and under `wrangler dev` a few thousand disconnects ran
    // the runtime out of them (docs/benchmark.md, "Where a connection's CPU goes").
    // 1005/1006/1015 may not be sent on the wire.
    if (code === 1005 || code === 1006 || code === 1015) code = 1000;
    closeQuietly(ws, code, reason);
  }

  override webSocketError(ws: WebSocket): void {
    // Fan-out goes by the runtime's socket groups: a socket the room lets go
    // of must not stay open in them.
    this.#drop(ws, 1011, "socket error");
  }

  /**
   * Stores and broadcasts messages from outside the room (the inject API), in
   * order and with nothing in between. With a key, a retry gets the first
   * answer back and nothing is stored twice; "conflict" means the key was
   * used for a different body.
   */
  async inject(
    messages: Injection[],
    idempotency: IdempotencyKey | null,
  ): Promise<Injected | "conflict"> {
    await this.#reopenStorage();
    const now = Date.now();
    if (idempotency) {
      const prior = this.#idempotency.get(idempotency.key, now);
      if (prior)
        return prior.fingerprint === idempotency.fingerprint
          ? { ...(JSON.parse(prior.result) as Omit<Injected, "replayed">), replayed: true }
          : "conflict";
    }
    for (const m of messages) {
      const checked = checkMessageText(m.message, this.#config.maxMessageChars);
      if (!checked.ok) throw new Error(checked.error.message);
    }
    // Every socket open now is sent the batch; known before sending, so the
    // answer can be remembered in the same transaction as the messages.
    const delivered = this.#sessions.size;
    // One transaction: a failure part-way stores none of the batch and no
    // key, so a retry cannot store the first messages twice.
    const stored = this.#transaction(() => {
      const appended = messages.map((m) => this.#store.append(m.user, m.message, now, false));
      for (const m of appended) this.#webhooks?.messageStored(m);
      const ids = appended.map((m) => m.id);
      if (idempotency)
        this.#idempotency.put(
          idempotency.key,
          idempotency.fingerprint,
          JSON.stringify({ ids, delivered }),
          now,
        );
      return appended;
    });
    const ids = stored.map((m) => m.id);
    // Sent only once committed: nobody sees a message that was rolled back.
    for (const m of stored) this.#deliver(m);
    this.#activity.injected(ids.length);
    return { ids, delivered, replayed: false };
  }

  /** Who is here and how far the room's ids have gone, for the stats API. */
  async stats(): Promise<RoomStats> {
    await this.#reopenStorage();
    const names = [...this.#sessions.values()].map((s) => s.name);
    const stats: RoomStats = {
      room: this.#room,
      members: names.length,
      names,
      lastId: this.#store.lastId,
    };
    if (this.#links) stats.relays = this.#links.relays;
    return stats;
  }

  /**
   * Up to `limit` members after `cursor` in join order, with their socket
   * counts, for the members API; one entry per member, not per socket.
   */
  async members(cursor: string | null, limit: number): Promise<MembersPage> {
    return { ...this.#roster.pageWithConnections(cursor, limit), count: this.#roster.count };
  }

  /**
   * Disconnects every socket of a member of `kind` (verified: a token's
   * `sub`; guest: a guest's id), telling them why in the close frame; with
   * `banSeconds`, also keeps that member out until the ban ends. Without a
   * kind, the kind of whoever has that id here, or verified if nobody does.
   */
  async removeMember(
    memberId: string,
    kind: MemberKind | null,
    banSeconds: number | null,
  ): Promise<Removed | RemovalRefused> {
    await this.#reopenStorage();
    const now = Date.now();
    const until = banSeconds ? now + banSeconds * 1000 : null;
    const present = new Set(
      [...this.#sessions.values()].filter((s) => s.id === memberId).map(kindOf),
    );
    if (kind === null && present.size > 1)
      return {
        refused: 409,
        error:
          "a guest and a verified member both have this id here: add ?kind=guest or ?kind=verified",
      };
    const which: MemberKind = kind ?? [...present][0] ?? "verified";
    if (until !== null && which === "guest" && !KEYED_GUEST_ID.test(memberId))
      return {
        refused: 422,
        error:
          "only guests who join with a ?guest= key (16 hex digit ids) can be banned: a guest without one gets a new id on every connection, so it can be removed (leave out ?ban=) but not kept out; use a private room for that",
      };
    if (until !== null) this.#bans.ban(which, memberId, until, now);
    const [code, reason] =
      until === null
        ? [CLOSE_REMOVED, "removed by a moderator"]
        : [CLOSE_BANNED, `banned until ${new Date(until).toISOString()}`];
    let disconnected = 0;
    // Deleting the current entry while iterating a Map is safe.
    for (const [ws, session] of this.#sessions) {
      if (session.id !== memberId || kindOf(session) !== which) continue;
      this.#drop(ws, code, reason);
      disconnected++;
    }
    this.#log("moderate", {
      room: this.#room,
      member: memberId,
      kind: which,
      disconnected,
      banned: until !== null,
    });
    return { disconnected, bannedUntil: until === null ? null : new Date(until).toISOString() };
  }

  /**
   * Stored messages after `since` (or the newest ones), for the history API.
   * A `since` read in another `epoch` is void: the answer says `reset` and
   * starts from the first message kept.
   */
  async history(
    since: number | null,
    limit: number,
    epoch: number | null = null,
  ): Promise<HistoryPage> {
    await this.#reopenStorage();
    const reset = !this.#store.sameEpoch(epoch);
    const from = reset ? 0 : since;
    const messages = from === null ? this.#store.latest(limit) : this.#store.after(from, limit);
    const page: HistoryPage = {
      messages,
      lastId: this.#store.lastId,
      oldestId: this.#store.oldestId(),
      epoch: this.#store.epoch,
    };
    if (reset) page.reset = true;
    return page;
  }

  /**
   * The one alarm handler: each feature does its due work and asks for its
   * next time (scheduleAlarm keeps the earliest).
   */
  override async alarm(): Promise<void> {
    await this.#reopenStorage();
    const now = Date.now();
    // Each feature fails alone: one that throws is logged and retried soon,
    // and the others and the reschedule still run.
    let next = now + PURGE_EVERY_MS;
    const comeBackAt = (at: number) => (next = Math.min(next, at));
    const step = async (feature: string, work: () => unknown): Promise<void> => {
      try {
        await work();
      } catch (err) {
        this.#log("error", { room: this.#room, alarm: feature, error: errorName(err) });
        comeBackAt(now + ALARM_RETRY_MS);
      }
    };
    await step("webhooks", async () => {
      const due = await this.#webhooks?.runDue(now);
      if (typeof due === "number") comeBackAt(due);
    });
    await step("idempotency", () => this.#idempotency.purgeExpired(now));
    await step("bans", () => this.#bans.purgeExpired(now));
    let expired = false;
    await step("retention", async () => {
      // No table: no message, ban or webhook state to keep (an alarm left by
      // a version that scheduled one on every visit). Nothing stays behind.
      if (!hasTables(this.ctx.storage.sql)) {
        await deleteRoomStorage(this.ctx.storage);
        this.#hasStorage = false;
        expired = true;
        return;
      }
      const verdict = await retentionVerdict(
        this.ctx.storage,
        { members: this.#sessions.size, lastMessageAt: this.#store.lastMessageAt() },
        this.#config.roomTtlMs,
        now,
      );
      if (!verdict.delete) return comeBackAt(verdict.next);
      await this.#expire(verdict.quietSince, now);
      expired = true;
    });
    if (!expired) await scheduleAlarm(this.ctx.storage, next);
  }

  /**
   * Deletes the room's storage after ROOM_TTL of quiet, except bans still in
   * force: those are kept (a 365-day ban outlives a quiet month), with an
   * alarm for when the last one ends, and the room's quiet time with them.
   */
  async #expire(quietSince: number, now: number): Promise<void> {
    const kept = this.#bans.inForce(now);
    await deleteRoomStorage(this.ctx.storage);
    this.#storageOpen = false;
    this.#hasStorage = false;
    this.#log("expired", {
      room: this.#room,
      ttlSeconds: this.#config.roomTtlMs / 1000,
      bansKept: kept.length,
    });
    if (kept.length === 0) return;
    const bans = new BanStore(this.ctx.storage.sql);
    for (const b of kept) bans.ban(b.kind, b.memberId, b.until, now);
    this.#hasStorage = true;
    markEmptied(this.ctx.storage, quietSince);
    await scheduleAlarm(this.ctx.storage, Math.max(...kept.map((b) => b.until)));
  }

  /** The first write created a table: from now on the room has storage, so retention watches it. */
  #firstWrite = (): void => {
    this.#hasStorage = true;
    this.#scheduleRetention().catch((err: unknown) =>
      this.#log("error", { room: this.#room, alarm: "schedule", error: errorName(err) }),
    );
  };

  async #scheduleRetention(): Promise<void> {
    const ttl = this.#config.roomTtlMs;
    await scheduleAlarm(
      this.ctx.storage,
      Date.now() + (ttl === 0 ? PURGE_EVERY_MS : Math.min(ttl, PURGE_EVERY_MS)),
    );
  }

  /** After retention deleted everything, a new visitor starts an empty room. */
  async #reopenStorage(): Promise<void> {
    if (this.#storageOpen) return;
    this.#storageOpen = true;
    const sql = this.ctx.storage.sql;
    this.#store = new MessageStore(sql, this.#config.historyLimit, this.#firstWrite);
    this.#idempotency = new IdempotencyStore(sql, this.#firstWrite);
    this.#bans = new BanStore(sql, this.#firstWrite);
    // Every per-room counter described the deleted history: ids start again.
    this.#recent.clear();
    this.#slow = this.#newSlowConsumers();
    const webhooks = webhookSettings(this.env);
    if (webhooks.ok && webhooks.value)
      this.#webhooks = new RoomWebhooks(this.ctx.storage, this.#room, webhooks.value, this.#log);
  }

  #publish(author: Session, text: string, clientId: string | undefined, sender: WebSocket): void {
    const { name, verified, id } = author;
    const scope = clientScope(author);
    // The message and its webhook event are stored together or not at all.
    const stored = this.#transaction(() => {
      const appended = this.#store.append(name, text, Date.now(), verified, clientId, id, scope);
      this.#webhooks?.messageStored(appended);
      return appended;
    });
    this.#deliver(stored, sender);
  }

  /** Slow-member bookkeeping for the room's current ids (again after a reset). */
  #newSlowConsumers(): SlowConsumers {
    return new SlowConsumers(
      {
        budget: this.#config.maxUnackedBytes,
        roomBudget: this.#config.maxRoomUnreadBytes,
        // Half the kept history: a member closed for lagging can always resume.
        maxLagMessages: Math.max(1, Math.floor(this.#config.historyLimit / 2)),
      },
      this.#store.lastId,
    );
  }

  /** Runs `fn` in one storage transaction; on failure the in-memory last id follows the rollback. */
  #transaction<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (err) {
      this.#store.reloadLastId();
      // A rollback may also undo a table the transaction created.
      this.#idempotency = new IdempotencyStore(this.ctx.storage.sql, this.#firstWrite);
      throw err;
    }
  }

  /** Broadcasts a stored message, or answers a resend with its receipt. */
  #deliver(
    { duplicate, ...message }: ChatMessage & { duplicate?: true },
    sender?: WebSocket,
  ): void {
    if (duplicate) {
      // A resend of a message the room already has: the members got it once;
      // the sender gets it again as its receipt.
      if (sender) this.#answer(sender, { type: "chat", ...message });
      return;
    }
    // Serialised once per message, not once per member, and kept for joiners.
    const frame = serialize(message);
    this.#recent.push(message.id, frame);
    this.#fanOut.chat(frame);
    this.#links?.frame(message.id, frame);
    if (this.#slow.sent(message.id, frame.length)) this.#dropSlow();
  }

  #addSession(ws: WebSocket, attachment: Attachment): void {
    this.#sessions.set(ws, attachment);
    this.#store.promiseEpoch(attachment.epoch);
    attachment.seq = this.#roster.add(toMember(attachment), attachment.seq);
    const address = attachment.address;
    if (address) this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    if (isRemote(ws)) {
      this.#remote.set(remoteKey(ws.relay, ws.sid), ws);
      this.#links?.added(ws);
    }
  }

  /**
   * What a joining socket is owed, serialised: the latest messages, or all
   * after `since` and whether some are gone. Served from the in-memory copy
   * when it reaches back far enough, which is nearly always.
   */
  #replayFor(join: JoinRequest): {
    frames: string[];
    gap: HistoryGapFrame | HistoryResetFrame | null;
  } {
    if (!this.#recent.loaded) this.#recent.load(this.#store.latest(this.#recent.capacity));
    if (join.since === null) {
      const frames = this.#recent.latest(this.#config.historyOnJoin);
      return {
        frames: frames ?? this.#store.latest(this.#config.historyOnJoin).map(serialize),
        gap: null,
      };
    }
    const lastId = this.#store.lastId;
    // Past the last id, or read in another epoch: retention deleted the room
    // and its ids started again.
    const otherEpoch = !this.#store.sameEpoch(join.epoch);
    if (join.since > lastId || otherEpoch)
      return { frames: [], gap: { type: "history_reset", since: join.since, lastId } };
    const cached = this.#recent.after(join.since, this.#config.historyLimit, lastId);
    // The copy holds only stored messages, so reaching back to `since` means nothing is gone.
    if (cached) return { frames: cached, gap: null };
    const oldest = this.#store.oldestId();
    const gap: HistoryGapFrame | null =
      oldest !== null && join.since < oldest - 1
        ? { type: "history_gap", since: join.since, oldestId: oldest }
        : null;
    return {
      frames: this.#store.after(join.since, this.#config.historyLimit).map(serialize),
      gap,
    };
  }

  /**
   * How many of the frames a relay holds for a resuming joiner are exactly
   * what #replayFor would send first: all of `since` + 1 … `held.last` (up
   * to the last id) when both are of this epoch and the history window
   * reaches back to `since` (ids are contiguous and trimming drops only the
   * oldest, so nothing after `since` is gone and no gap frame is owed).
   * 0 when the room must answer as for any joiner.
   */
  #heldByRelay(join: JoinRequest, held: RelayHeld | null): number {
    if (held === null || join.since === null) return 0;
    const lastId = this.#store.lastId;
    if (!this.#store.sameEpoch(join.epoch) || held.epoch !== this.#store.epoch) return 0;
    if (join.since > lastId || lastId - join.since > this.#config.historyLimit) return 0;
    return Math.max(0, Math.min(held.last, lastId) - join.since);
  }

  /** Stored frames after `after` up to the last id (the copy first, else storage); none past it. */
  #framesAfter(after: number): string[] {
    if (after >= this.#store.lastId) return [];
    if (!this.#recent.loaded) this.#recent.load(this.#store.latest(this.#recent.capacity));
    return (
      this.#recent.after(after, this.#config.historyLimit, this.#store.lastId) ??
      this.#store.after(after, this.#config.historyLimit).map(serialize)
    );
  }

  /**
   * Presence goes out as one diff per interval to the rich sockets, never a
   * frame per join: a storm of N joins costs O(N) frames, not O(N²), and past
   * the first 100 members a frame carries the count, not every joiner's name
   * (presence.ts). Members who asked for the whole list get the whole diff.
   */
  #schedulePresence(): void {
    if (this.#presenceTimer !== null) return;
    const delay = this.#roster.count <= MEMBER_PAGE ? PRESENCE_SMALL_MS : PRESENCE_BIG_MS;
    this.#presenceTimer = setTimeout(() => {
      this.#presenceTimer = null;
      const diffs = this.#roster.takeDiffs();
      if (!diffs) return;
      const window = JSON.stringify(diffs.window satisfies ServerFrame);
      let all: string | undefined;
      let over = false;
      this.#fanOut.rich((ws) => {
        const session = this.#sessions.get(ws);
        const frame = session?.everyone
          ? (all ??= JSON.stringify(diffs.all satisfies ServerFrame))
          : window;
        // A socket the room already let go of (still closing) is not a member to count.
        if (session && this.#slow.own(ws, frame.length)) over = true;
        return frame;
      });
      if (over) this.#checkSlowSoon();
      // Relays get both frames once and pick per socket (RoomRelay).
      this.#links?.presence(window, (all ??= JSON.stringify(diffs.all satisfies ServerFrame)));
    }, delay);
  }

  #sendMembers(ws: WebSocket, session: Session, cursor: string | null): void {
    if (!this.#pageLimits.allow(senderKeys(session, session.address ?? null), Date.now())) {
      const { rateLimitWindowMs: windowMs, rateLimitMessages: max } = this.#config;
      return this.#answer(ws, {
        type: "error",
        code: "rate_limited",
        message: `Slow down: at most ${max} member-list pages every ${windowMs / 1000} s.`,
      });
    }
    const page = this.#roster.page(cursor);
    // The page shows the room as it is now; every change after it is owed too.
    if (!session.everyone) {
      session.everyone = true;
      ws.serializeAttachment(session);
    }
    this.#send(ws, { type: "members", cursor, ...page, count: this.#roster.count });
  }

  /**
   * Sends one frame to one socket, counted against its budget; a socket
   * that cannot take it is dropped.
   */
  #send(ws: WebSocket, frame: ServerFrame): void {
    const text = JSON.stringify(frame);
    if (!trySend(ws, text)) return this.#drop(ws, CLOSE_SEND_FAILED, "send failed");
    // Only members are counted: a socket already let go of holds nothing for the room.
    // A relay's socket is counted by its relay, which sees what it buffers and acks.
    if (isRemote(ws)) return;
    if (this.#sessions.has(ws) && this.#slow.own(ws, text.length)) this.#checkSlowSoon();
  }

  /** An answer to the socket's own frame (an error or a receipt): limited per socket. */
  #answer(ws: WebSocket, frame: ServerFrame): void {
    const now = Date.now();
    const verdict = this.#answers.take(ws, now);
    if (verdict === "drop") return;
    if (verdict === "send") {
      this.#send(ws, frame);
      // Closed at once: a flood of requests is answered by no more than the budget.
      const session = isRemote(ws) ? undefined : this.#sessions.get(ws);
      const reason = session ? this.#slow.overBudget(ws) : null;
      if (session && reason !== null) this.#dropAsSlow(ws, session, reason);
      return;
    }
    const seconds = Math.ceil(this.#answers.resumesIn(ws, now) / 1000);
    this.#send(ws, {
      type: "error",
      code: "rate_limited",
      message: `Too many frames to answer: errors and receipts for this connection resume in ${seconds} s.`,
    });
  }

  /**
   * Looks for members over budget once the current event is done, so no
   * send path closes sockets in the middle of serving the room (or a join).
   */
  #checkSlowSoon(): void {
    if (this.#slowCheckScheduled) return;
    this.#slowCheckScheduled = true;
    setTimeout(() => {
      this.#slowCheckScheduled = false;
      this.#dropSlow();
    }, 0);
  }

  /**
   * Closes members too far behind, then, while the room as a whole holds
   * too much unread, the members holding most; they resume with `since`
   * and lose nothing.
   */
  #dropSlow(): void {
    for (const [ws, session] of this.#sessions) {
      if (isRemote(ws)) continue;
      const reason = this.#slow.overBudget(ws);
      if (reason === null) continue;
      this.#dropAsSlow(ws, session, reason);
    }
    if (!this.#slow.roomOver()) return;
    const heaviest = [...this.#sessions]
      .filter(([ws]) => !isRemote(ws))
      .toSorted(([a], [b]) => this.#slow.held(b) - this.#slow.held(a));
    for (const [ws, session] of heaviest) {
      if (!this.#slow.roomOver()) break;
      this.#dropAsSlow(ws, session, `room holds ${this.#slow.roomHeld} characters unread`);
    }
  }

  #dropAsSlow(ws: WebSocket, session: Session, reason: string): void {
    this.#log("slow", { room: this.#room, member: session.id, reason });
    this.#drop(ws, CLOSE_SLOW, "too far behind: reconnect with since");
  }

  /** Ends a member's connection on the room's side: the others see it leave. */
  #drop(ws: WebSocket, code: number, reason: string): void {
    this.#leave(ws);
    closeQuietly(ws, code, reason);
  }

  #leave(ws: WebSocket): void {
    const session = this.#sessions.get(ws);
    if (!session) return;
    this.#sessions.delete(ws);
    if (isRemote(ws)) {
      this.#remote.delete(remoteKey(ws.relay, ws.sid));
      this.#links?.removed(ws);
    }
    this.#slow.left(ws);
    this.#roster.remove(session);
    const address = session.address;
    if (address) {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    }
    this.#schedulePresence();
    this.#webhooks?.left(session.id, Date.now());
    // A room without storage has nothing to expire: it leaves nothing behind.
    if (this.#sessions.size === 0 && this.#hasStorage) markEmptied(this.ctx.storage, Date.now());
    this.#activity.disconnected();
  }
}

/** Sockets from before places were recorded (none survive a deploy) go last, to new places. */
function joinPlace(a: Attachment): number {
  return a.seq ?? Number.MAX_SAFE_INTEGER;
}

function kindOf(member: Member): MemberKind {
  return member.verified ? "verified" : "guest";
}

/** An error's name for the logs, never its message (which may quote user input). */
function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

function toMember(s: Member): Member {
  return { id: s.id, name: s.name, verified: s.verified };
}

/** A member socket a relay holds (ROOM_RELAYS > 1), not one of the room's own. */
function isRemote(ws: WebSocket | RemoteSocket): ws is RemoteSocket {
  return ws instanceof RemoteSocket;
}

function remoteKey(relay: number, sid: string): string {
  return `${relay}/${sid}`;
}

function newConnectionId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(6)));
}
