/**
 * @module protocol
 * The wire vocabulary between browsers, scripts and a room: the frames a room
 * sends and its close codes, as docs/protocol.md describes them. This file is
 * the one definition: the server (src/protocol.ts) re-exports it, so the
 * package and the room cannot drift apart. Chat frames carry a string
 * `message`, which is all the Channels tutorial client reads; every other
 * frame is "rich" and only reaches clients that asked for it.
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
  | "bad_cursor"
  /** The site's publish hook denied the message; `message` is its reason. */
  | "refused"
  /** The publish hook could not be asked or did not answer (PUBLISH_HOOK_FAILURE "closed"). */
  | "unavailable"
  /** Too many messages waiting for the publish hook: send again after the earlier ones are answered. */
  | "busy";

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
