/**
 * @module inject-body
 * The inject API's two body shapes: one message, or a batch of up to
 * MAX_BATCH that is stored and delivered in order.
 */
import { parseDisplayName } from "../identity/display-name";
import type { Injection } from "../room/chat-room";
import type { RoomConfig } from "../config";
import { checkMessageText } from "../protocol";
import type { Parsed } from "../text";

export const MAX_BATCH = 100;

type Limits = Pick<RoomConfig, "maxMessageChars" | "maxNameChars">;
export const DEFAULT_INJECT_USER = "api";

export interface InjectBody {
  messages: Injection[];
  /** `{"messages": [...]}` was sent, so the answer lists `ids`. */
  batch: boolean;
}

const SHAPE = 'body must be JSON like {"message": "hi"} or {"messages": [{"message": "hi"}]}';

function item(value: unknown, limits: Limits, where: string): Parsed<Injection> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, error: `${where}must be a JSON object like {"message": "hi"}` };
  const { message, user } = value as { message?: unknown; user?: unknown };
  if (typeof message !== "string")
    return {
      ok: false,
      error: `${where}needs a string "message" (and Content-Type: application/json)`,
    };
  const checked = checkMessageText(message, limits.maxMessageChars);
  if (!checked.ok) return { ok: false, error: `${where}${checked.error.message}` };
  if (user !== undefined && typeof user !== "string")
    return { ok: false, error: `${where}"user" must be a string` };
  const name = parseDisplayName(user, limits.maxNameChars);
  if (!name.ok) return { ok: false, error: `${where}invalid user: ${name.error}` };
  return { ok: true, value: { message: checked.message, user: name.value ?? DEFAULT_INJECT_USER } };
}

/** Validates a parsed JSON body; every message must pass or none is sent. */
export function parseInjectBody(body: unknown, limits: Limits): Parsed<InjectBody> {
  if (typeof body === "object" && body !== null && "messages" in body) {
    if ("message" in body)
      return { ok: false, error: 'send either "message" or "messages", not both' };
    const list = (body as { messages: unknown }).messages;
    if (!Array.isArray(list) || list.length === 0)
      return {
        ok: false,
        error: '"messages" must be a non-empty array of {"message": string, "user"?: string}',
      };
    if (list.length > MAX_BATCH)
      return {
        ok: false,
        error: `"messages" holds ${list.length} items; at most ${MAX_BATCH} per request`,
      };
    const messages: Injection[] = [];
    for (const [i, value] of list.entries()) {
      const parsed = item(value, limits, `messages[${i}]: `);
      if (!parsed.ok) return parsed;
      messages.push(parsed.value);
    }
    return { ok: true, value: { messages, batch: true } };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, error: SHAPE };
  const parsed = item(body, limits, "");
  return parsed.ok ? { ok: true, value: { messages: [parsed.value], batch: false } } : parsed;
}
