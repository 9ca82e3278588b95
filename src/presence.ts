/**
 * @module presence
 * Who is in a room, as members (one entry per member, however many tabs it
 * has open), and what changed since the last presence frame. Every
 * operation on a join or a leave is O(1); a frame costs O(members changed).
 * Anchors: Phoenix Presence sends diffs; Pusher caps presence lists at 100.
 */
import type { Member, MemberRef, PresenceFrame } from "./protocol";

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
  #changed = new Map<string, { member: Member; joined: boolean }>();

  /** Members present (distinct ids). */
  get count(): number {
    return this.#entries.size;
  }

  /** Whether a presence frame is owed. */
  get dirty(): boolean {
    return this.#changed.size > 0;
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
    this.#changed.set(key, { member, joined: true });
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
    this.#changed.set(key, { member, joined: false });
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

  /** The changes since the last call as one frame, or null when nothing changed. */
  takeDiff(): PresenceFrame | null {
    if (this.#changed.size === 0) return null;
    const joined: Member[] = [];
    const left: MemberRef[] = [];
    for (const { member, joined: came } of this.#changed.values()) {
      if (came) joined.push(member);
      else left.push({ id: member.id, verified: member.verified });
    }
    this.#changed.clear();
    return { type: "presence", joined, left, count: this.#entries.size };
  }
}

/**
 * A guest's id and a join token's id come from different places and could
 * coincide: the flag keeps them apart, as the room page does.
 */
function memberKey(m: MemberRef): string {
  return `${m.verified ? "v" : "g"}:${m.id}`;
}
