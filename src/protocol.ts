/**
 * @module protocol
 * The wire vocabulary between browsers, scripts and a room. Chat frames carry
 * a string `message`, which is all the Channels tutorial client reads; every
 * other frame is "rich" and only reaches clients that asked for it.
 */

export interface Member {
  id: string;
  name: string;
  /** Joined with a signed join token: the name and id are the backend's, not self-chosen. */
  verified: boolean;
}

/** A stored chat message, as history and the API return it. */
export interface ChatMessage {
  id: number;
  message: string;
  user: string;
  ts: number;
  /** Present (true) only when the author joined with a signed join token. */
  verified?: true;
  /**
   * The author's member id (the `id` in presence frames), so clients tell
   * people apart by id, never by name. Absent for messages injected over the
   * API, and for messages stored before member ids were recorded.
   */
  memberId?: string;
  /** The sender's own id for the message, when it gave one: its receipt. */
  clientId?: string;
}

export type ChatFrame = { type: "chat" } & ChatMessage;

export type ErrorCode =
  | "bad_json"
  | "bad_frame"
  | "binary_frame"
  | "empty_message"
  | "message_too_long"
  | "rate_limited"
  | "bad_cursor";

export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  /** The refused message's clientId, when it had a valid one. */
  clientId?: string;
}

/** Rich: first frame after joining, before any history. */
export interface WelcomeFrame {
  type: "welcome";
  room: string;
  you: Member;
  /** The first members in join order, at most 100 (`you` among them once you are that early). */
  members: Member[];
  /** Members present, including you: one per member id, however many sockets it has. */
  count: number;
  /** Cursor for the rest of the list (`{"type":"members","cursor":more}`), null when `members` is all. */
  more: string | null;
  lastId: number;
  /**
   * When the room's storage was created (ms). Ids are comparable only within
   * one epoch: pass it back as `?epoch=` with `since` when resuming.
   */
  epoch: number;
  /** How many history chat frames follow this one: the client is caught up after them. */
  history: number;
}

/**
 * Rich: who came and went since the last presence frame, sent at most every
 * 50 ms (up to 100 members) or 250 ms (bigger rooms) while anything changed.
 * Applying it is idempotent: a joined member already listed, or a left one
 * never seen, is no change. (Until this frame existed, rooms sent one
 * `{"type":"join"|"leave","member","count"}` per socket to every rich member.)
 */
export interface PresenceFrame {
  type: "presence";
  joined: Member[];
  /** Members whose last socket closed (no name: `id` and `verified` say who). */
  left: MemberRef[];
  count: number;
}

/** Who a member is without the name: a guest's id and a verified id never match each other. */
export type MemberRef = Pick<Member, "id" | "verified">;

/** Rich: one page of the member list, the answer to `{"type":"members","cursor"?}`. */
export interface MembersFrame {
  type: "members";
  /** The cursor asked for; null for the first page. */
  cursor: string | null;
  members: Member[];
  /** Cursor of the next page, null at the end of the list. */
  next: string | null;
  count: number;
}

/** Rich: `since` asked for messages the room no longer keeps. */
export interface HistoryGapFrame {
  type: "history_gap";
  since: number;
  oldestId: number;
}

/**
 * Rich: `since` is past the room's last id, or was read in another epoch, so
 * the room's storage was reset (deleted after ROOM_TTL, or a new deployment). Ids start again after
 * `lastId`: forget the ids held, or new messages would look like repeats.
 */
export interface HistoryResetFrame {
  type: "history_reset";
  since: number;
  lastId: number;
}

/** Close codes a room uses when it ends a connection on purpose. */
export const CLOSE_REMOVED = 4001;
export const CLOSE_BANNED = 4003;
/**
 * The member fell too far behind (MAX_UNACKED_BYTES); not terminal: reconnect
 * with `since` and the room replays what was missed (like Centrifugo's 3008).
 */
export const CLOSE_SLOW = 4008;
/** The room could not send to this socket; the client may reconnect with `since`. */
export const CLOSE_SEND_FAILED = 1011;

export type RichFrame =
  | WelcomeFrame
  | PresenceFrame
  | MembersFrame
  | HistoryGapFrame
  | HistoryResetFrame;
export type ServerFrame = ChatFrame | ErrorFrame | RichFrame;

export type ClientFrameResult =
  | { ok: true; message: string; clientId?: string }
  | { ok: false; error: ErrorFrame };

/** A client's request for a page of the member list. */
export interface MembersRequest {
  ok: true;
  members: { cursor: string | null };
}

/** A member-list cursor as the room hands them out (a place in join order), here and over HTTP. */
export const MEMBER_CURSOR = /^\d{1,15}$/;

/** A client's own message id: resending with the same one never stores it twice. */
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

function error(code: ErrorCode, message: string): ClientFrameResult {
  return { ok: false, error: { type: "error", code, message } };
}

/**
 * Parses one frame from a client. Accepts exactly the tutorial's shape,
 * `{"message": string}`; other keys are ignored so richer clients can add
 * their own without breaking. `{"type": "members", "cursor"?: string}`
 * asks for a page of the member list instead.
 */
export function parseClientFrame(
  data: string | ArrayBuffer,
  maxMessageChars: number,
): ClientFrameResult | MembersRequest {
  if (typeof data !== "string")
    return error(
      "binary_frame",
      'Binary frames are not supported: send JSON text like {"message": "hi"}.',
    );
  // A frame far beyond the limit is refused before JSON.parse spends time on it;
  // 6x covers a message written entirely as \uXXXX escapes.
  if (data.length > maxMessageChars * 6 + 1024)
    return error(
      "message_too_long",
      `Frame is too large: a message may have at most ${maxMessageChars} characters.`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return error("bad_json", 'Frame is not valid JSON: send {"message": "hi"}.');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return error("bad_frame", 'Frame must be a JSON object like {"message": "hi"}.');
  const { message, clientId, type, cursor } = parsed as {
    message?: unknown;
    clientId?: unknown;
    type?: unknown;
    cursor?: unknown;
  };
  if (type === "members") {
    if (cursor === undefined || cursor === null) return { ok: true, members: { cursor: null } };
    if (typeof cursor !== "string" || !MEMBER_CURSOR.test(cursor))
      return error(
        "bad_cursor",
        '"cursor" must be the "more" of a welcome or the "next" of a members frame.',
      );
    return { ok: true, members: { cursor } };
  }
  if (clientId !== undefined && (typeof clientId !== "string" || !CLIENT_ID.test(clientId)))
    return error("bad_frame", '"clientId" must be 1 to 64 letters, digits, "-" or "_".');
  const checked =
    typeof message === "string"
      ? checkMessageText(message, maxMessageChars)
      : error("bad_frame", 'Frame needs a string "message" field, like {"message": "hi"}.');
  if (clientId === undefined) return checked;
  return checked.ok
    ? { ...checked, clientId }
    : { ok: false, error: { ...checked.error, clientId } };
}

/** Rules for chat text, shared by WebSocket frames and the inject API. */
export function checkMessageText(message: string, maxMessageChars: number): ClientFrameResult {
  if (message.trim() === "") return error("empty_message", "Message is empty.");
  if (message.length > maxMessageChars)
    return error("message_too_long", `Message is longer than ${maxMessageChars} characters.`);
  // A lone surrogate would be broadcast as is but stored (UTF-8) as U+FFFD:
  // replace it now so live delivery and history carry the same text.
  return { ok: true, message: message.toWellFormed() };
}

export function rateLimitedFrame(windowMs: number, max: number): ErrorFrame {
  return {
    type: "error",
    code: "rate_limited",
    message: `Slow down: at most ${max} messages every ${windowMs / 1000} s. This message was not sent.`,
  };
}
