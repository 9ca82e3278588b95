/**
 * @module protocol
 * The wire vocabulary between browsers, scripts and a room. The frames a
 * room sends are defined once, in the room client package
 * (packages/client/src/protocol.ts), and re-exported here; what lives here is
 * the server's side: parsing what clients send.
 */
import type {
  ChatFrame,
  ChatMessage,
  ErrorCode,
  ErrorFrame,
} from "../packages/client/src/protocol";

export * from "../packages/client/src/protocol";

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

/** The one way a stored message becomes a chat frame, live, replayed or in a webhook. */
export function serialize(message: ChatMessage): string {
  return JSON.stringify({ type: "chat", ...message } satisfies ChatFrame);
}

/**
 * A relay (ROOM_RELAYS > 1) could not reach its room, or the room lost track
 * of the connection: "try again later". Not terminal: reconnect with `since`.
 */
export const CLOSE_ROOM_UNREACHABLE = 1013;
