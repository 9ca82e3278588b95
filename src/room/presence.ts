/**
 * @module presence
 * Who is in a room, as members (one entry per member, however many tabs it
 * has open), and what changed since the last presence frame. Every
 * operation on a join or a leave is O(1).
 *
 * Two kinds of diff: most members are only ever told about the first
 * MEMBER_PAGE members (the welcome's list) and the count, so a frame costs at
 * most MEMBER_PAGE entries however big the room and a join beyond them costs
 * each member a few bytes of count, not a name: sending every join's name to
 * every member is O(N²) bytes per storm (122 MB for 2,000 joins). A member who
 * asked for the rest of the list is sent every change from then on.
 * Anchors: Phoenix Presence sends diffs; Pusher caps presence lists at 100;
 * Centrifugo serves the full list on request.
 */
import type { Member, MemberRef, PresenceFrame } from "../protocol";

/** Members in a welcome and in one page of a `members` answer. */
export const MEMBER_PAGE = 100;

interface Entry {
  member: Member;
  /** Open sockets of this member. */
  sockets: number;
  /** Position in join order; pages are cut by it, so a cursor survives joins and leaves. */
  seq: number;
}

export interface MemberPage<M = Member> {
  members: M[];
  /** Cursor for the next page, or null when this page reaches the end. */
  next: string | null;
}

/** A member as the HTTP API lists it: with its socket count. */
export interface MemberInfo extends Member {
  /** Open sockets of this member (one per tab or device). */
  connections: number;
}

export class Roster {
  /** In join order: a Map iterates in insertion order, and a rejoin goes to the end. */
  #entries = new Map<string, Entry>();
  #seq = 0;
  /**
   * Members whose presence changed since the last frame: joined (the member)
   * or left. By member key, so a member who comes and goes within one
   * interval costs one entry.
   */
  #changed = new Map<string, { member: Member; joined: boolean; seq: number }>();
  /**
   * Leaves that a rejoin in the same interval overwrote in #changed: a
   * welcome may have listed the member who left, and its leave is still owed.
   */
  #rejoined = new Map<string, { member: Member; seq: number }>();
  /** The first MEMBER_PAGE members as the last window diff described them. */
  #window = new Map<string, Member>();
  /**
   * The last join place a welcome listed since the last diff: those members
   * are not in #window yet, but a leave of theirs is owed to everyone.
   */
  #shownUpTo = 0;

  /** Members present (distinct ids). */
  get count(): number {
    return this.#entries.size;
  }

  /**
   * A socket of `member` opened; returns the member's place in join order.
   * `seq` restores a place given out before the object hibernated, so
   * cursors handed out then still mean the same; restore in ascending order.
   */
  add(member: Member, seq?: number): number {
    const key = memberKey(member);
    const entry = this.#entries.get(key);
    if (entry) {
      entry.sockets++;
      return entry.seq;
    }
    const place = seq ?? this.#seq + 1;
    this.#seq = Math.max(this.#seq, place);
    this.#entries.set(key, { member, sockets: 1, seq: place });
    const before = this.#changed.get(key);
    if (before && !before.joined) this.#rejoined.set(key, before);
    this.#changed.set(key, { member, joined: true, seq: place });
    return place;
  }

  /** A socket of `member` closed. */
  remove(member: Member): void {
    const key = memberKey(member);
    const entry = this.#entries.get(key);
    if (!entry) return;
    if (--entry.sockets > 0) return;
    this.#entries.delete(key);
    // Even when the join was never announced: a welcome sent meanwhile may
    // have listed this member, and a leave of an unknown member is harmless.
    this.#changed.set(key, { member, joined: false, seq: entry.seq });
  }

  /** The welcome's list: the first MEMBER_PAGE members, remembered as shown. */
  firstPage(): MemberPage {
    const page = this.page(null, MEMBER_PAGE);
    this.#shownUpTo = Math.max(this.#shownUpTo, page.next === null ? this.#seq : Number(page.next));
    return page;
  }

  /**
   * Up to MEMBER_PAGE members in join order after `cursor` (from the start
   * when null). Walks from the start: pages are asked for one at a time and
   * rate-limited, joins and leaves never do this.
   */
  page(cursor: string | null, size = MEMBER_PAGE): MemberPage {
    return this.#slice(cursor, size, (entry) => entry.member);
  }

  /** Like page(), with each member's socket count (for the HTTP API). */
  pageWithConnections(cursor: string | null, size: number): MemberPage<MemberInfo> {
    return this.#slice(cursor, size, (e) => ({ ...e.member, connections: e.sockets }));
  }

  #slice<M>(cursor: string | null, size: number, view: (entry: Entry) => M): MemberPage<M> {
    const after = cursor === null ? 0 : Number(cursor);
    const members: M[] = [];
    let last = after;
    for (const entry of this.#entries.values()) {
      if (entry.seq <= after) continue;
      if (members.length === size) return { members, next: String(last) };
      members.push(view(entry));
      last = entry.seq;
    }
    return { members, next: null };
  }

  /**
   * The changes since the last call, or null when nothing changed: `all`
   * names every member who came or went; `window` only the changes to the
   * first MEMBER_PAGE members in join order (a member can enter it when one
   * before it leaves). Both carry the room's count.
   */
  takeDiffs(): { all: PresenceFrame; window: PresenceFrame } | null {
    if (this.#changed.size === 0) return null;
    const count = this.#entries.size;
    const all: PresenceFrame = { type: "presence", joined: [], left: [], count };
    for (const { member, joined: came } of this.#changed.values()) {
      if (came) all.joined.push(member);
      else all.left.push(ref(member));
    }
    const window = this.#takeWindowChanges();
    this.#changed.clear();
    return { all, window: { type: "presence", ...window, count } };
  }

  /** Forgets pending changes: after a wake every member already knows them. */
  settle(): void {
    this.#changed.clear();
    this.#takeWindowChanges();
  }

  /** O(MEMBER_PAGE): the window is the start of the join order. */
  #takeWindowChanges(): { joined: Member[]; left: MemberRef[] } {
    const window = new Map<string, Member>();
    for (const [key, entry] of this.#entries) {
      if (window.size === MEMBER_PAGE) break;
      window.set(key, entry.member);
    }
    const joined: Member[] = [];
    const left: MemberRef[] = [];
    // By object, not key: a member who left and came back (perhaps under
    // another name, with another token) is announced again.
    for (const [key, member] of window) if (this.#window.get(key) !== member) joined.push(member);
    for (const [key, member] of this.#window) if (!window.has(key)) left.push(ref(member));
    // Members a welcome listed since the last diff and who left before it.
    const owed = new Map<string, Member>();
    for (const [key, c] of this.#rejoined) if (c.seq <= this.#shownUpTo) owed.set(key, c.member);
    for (const [key, c] of this.#changed)
      if (!c.joined && c.seq <= this.#shownUpTo) owed.set(key, c.member);
    for (const [key, member] of owed) if (!this.#window.has(key)) left.push(ref(member));
    this.#window = window;
    this.#shownUpTo = 0;
    this.#rejoined.clear();
    return { joined, left };
  }
}

function ref(m: Member): MemberRef {
  return { id: m.id, verified: m.verified };
}

/**
 * A guest's id and a join token's id come from different places and could
 * coincide: the flag keeps them apart, as the room page does.
 */
function memberKey(m: MemberRef): string {
  return `${m.verified ? "v" : "g"}:${m.id}`;
}
