/**
 * @module room-members
 * Who is in the room, as the page knows it: the welcome's first members, then
 * the presence diffs, plus the pages asked for with "show everyone". Kept by
 * member key, never by name (a guest may take anyone's name), and apart from
 * the DOM so the rules are easy to read.
 */
import { skeleton } from "../src/identity/lookalike.ts";
import type {
  ChatMessage,
  Member,
  MembersFrame,
  PresenceFrame,
  WelcomeFrame,
} from "../src/protocol.ts";

/**
 * One key per person: verified members by the backend's id, guests by the
 * room's; the flag keeps a guest id from ever matching a verified one.
 */
export function memberKey(m: { id: string; verified: boolean }): string {
  return `${m.verified ? "verified" : "guest"}:${m.id}`;
}

/** A message's author as a member key; API messages have no member, only a name. */
export function authorKey(m: ChatMessage): string {
  return m.memberId === undefined
    ? `api:${m.user}`
    : memberKey({ id: m.memberId, verified: m.verified === true });
}

export class RoomMembers {
  /** You, from the last welcome. */
  me: Member | null = null;
  readonly #members = new Map<string, Member>();
  /** Members in the room, as the room last said (may exceed what the page knows). */
  #count = 0;
  /** Where the next page of the member list starts; null when the list is complete. */
  #cursor: string | null = null;
  /** Whether "show everyone" is fetching pages. */
  fetching = false;
  /** How the names of verified members read (look-alike skeletons): guests who read the same are flagged. */
  readonly #verifiedLooks = new Set<string>();

  /** A new connection's welcome: the list starts over. Returns true if a verified name is new. */
  welcome(frame: WelcomeFrame): boolean {
    this.me = frame.you;
    this.#members.clear();
    this.#count = frame.count;
    this.#cursor = frame.more;
    this.fetching = false;
    return this.#add([...frame.members, frame.you]);
  }

  /** As the protocol says: remove who left, then add who joined. True if a verified name is new. */
  presence(frame: PresenceFrame): boolean {
    for (const m of frame.left) this.#members.delete(memberKey(m));
    this.#count = frame.count;
    return this.#add(frame.joined);
  }

  /** A page of the member list. True if a verified name is new. */
  page(frame: MembersFrame): boolean {
    this.#count = frame.count;
    this.#cursor = frame.next;
    if (this.#cursor === null) this.fetching = false;
    return this.#add(frame.members);
  }

  /** The cursor for the next page while fetching, or undefined when there is nothing to ask. */
  nextPage(): string | null | undefined {
    return this.fetching && this.#cursor !== null ? this.#cursor : undefined;
  }

  /** Starts "show everyone": the first page to ask for. */
  fetchAll(): string | null {
    this.fetching = true;
    return this.#cursor;
  }

  /** Notes a verified author seen in chat; true if their name is new (guests using it must be flagged). */
  noteAuthor(m: ChatMessage): boolean {
    return this.#noteVerified({ name: m.user, verified: m.verified === true });
  }

  isMine(m: ChatMessage): boolean {
    return this.me !== null && authorKey(m) === memberKey(this.me);
  }

  readsAsVerified(name: string): boolean {
    return this.#verifiedLooks.has(skeleton(name));
  }

  get count(): number {
    return this.#count;
  }

  /** Known members by key: you first, then by name (verified before a namesake guest). */
  list(): [string, Member][] {
    const myKey = this.me ? memberKey(this.me) : null;
    return [...this.#members.entries()].toSorted(([ka, a], [kb, b]) => {
      if (ka === myKey) return -1;
      if (kb === myKey) return 1;
      return a.name.localeCompare(b.name) || Number(b.verified) - Number(a.verified);
    });
  }

  /** Members the room counts that the page has not been told about yet. */
  get unknown(): number {
    return this.#count - this.#members.size;
  }

  #add(list: Member[]): boolean {
    let newVerified = false;
    for (const m of list) {
      this.#members.set(memberKey(m), m);
      if (this.#noteVerified(m)) newVerified = true;
    }
    return newVerified;
  }

  #noteVerified(m: { name: string; verified: boolean }): boolean {
    if (!m.verified || this.readsAsVerified(m.name)) return false;
    this.#verifiedLooks.add(skeleton(m.name));
    return true;
  }
}
