/**
 * @module console-api
 * The moderator console's calls to the bearer API (docs/http-api.md): the
 * same routes a script uses with curl. The credential travels only in the
 * Authorization header, never in a URL.
 */
import type { ChatMessage, Member } from "@edge-chat/client";

/** A member as the members API lists them: `connections` open sockets. */
export interface ListedMember extends Member {
  connections: number;
}

/** What the API answered: the status and the JSON body (or the text, when not JSON). */
export interface Answer<T = unknown> {
  status: number;
  body: T | null;
  text: string;
}

/** Messages per page of the history API when no `limit` is given. */
export const MESSAGE_PAGE = 100;

/** A moderator's view of one room over the API. */
export class ConsoleApi {
  readonly #token: string;
  readonly room: string;

  constructor(token: string, room: string) {
    this.#token = token;
    this.room = room;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(`/api/rooms/${encodeURIComponent(this.room)}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    const text = await res.text();
    let parsed: T | null = null;
    try {
      parsed = JSON.parse(text) as T;
    } catch {
      // Not JSON (a proxy's error page): the text is shown as is.
    }
    return { status: res.status, body: parsed, text };
  }

  /**
   * Up to MESSAGE_PAGE messages after `since` (or the newest ones), oldest
   * first. The API's default page, which every HISTORY_LIMIT allows.
   */
  messages(since: number | null): Promise<Answer<{ messages: ChatMessage[]; lastId: number }>> {
    const query = since === null ? "" : `?since=${since}`;
    return this.#call("GET", `/messages${query}`);
  }

  /** One page of members in join order; `next` is the cursor of the following page. */
  members(
    cursor: string | null,
  ): Promise<Answer<{ members: ListedMember[]; count: number; next: string | null }>> {
    const query = cursor === null ? "?limit=1000" : `?limit=1000&cursor=${cursor}`;
    return this.#call("GET", `/members${query}`);
  }

  /** Posts a message as the room (the inject API). */
  post(message: string, user: string): Promise<Answer> {
    return this.#call("POST", "/messages", user === "" ? { message } : { message, user });
  }

  /**
   * Kicks a member (every socket closed with 4001) or, with `banSeconds`,
   * bans it for that long (4003). The member's kind goes with its id, so a
   * guest whose id equals a verified member's never takes the other with it.
   */
  remove(member: Member, banSeconds: number | null): Promise<Answer> {
    const query = new URLSearchParams({ kind: member.verified ? "verified" : "guest" });
    if (banSeconds !== null) query.set("ban", String(banSeconds));
    return this.#call("DELETE", `/members/${encodeURIComponent(member.id)}?${query}`);
  }
}
