// Who is here, as the room page keeps it (client/room-members.ts): by member
// key, never by name, from the welcome, presence diffs and member pages.
import { describe, expect, it } from "vitest";
import { RoomMembers } from "../client/room-members";
import type { ChatMessage, Member, WelcomeFrame } from "../src/protocol";

const alice: Member = { id: "u-1", name: "Alice", verified: true };
const guestAlice: Member = { id: "g-7", name: "Alice", verified: false };
const bob: Member = { id: "g-2", name: "bob", verified: false };

function welcome(
  you: Member,
  members: Member[],
  count: number,
  more: string | null = null,
): WelcomeFrame {
  return {
    type: "welcome",
    room: "lobby",
    you,
    members,
    count,
    more,
    lastId: 0,
    history: 0,
  } as WelcomeFrame;
}

/** A chat message by `memberId`, shown as "Alice" whoever sent it. */
const msg = (memberId: string, verified: boolean): ChatMessage => ({
  id: 1,
  user: "Alice",
  message: "hi",
  ts: 0,
  memberId,
  ...(verified ? { verified: true as const } : {}),
});

describe("RoomMembers", () => {
  it("lists you first, then by name, and keeps a verified member and a namesake guest apart", () => {
    const m = new RoomMembers();
    m.welcome(welcome(bob, [guestAlice, alice], 3));
    expect(m.list().map(([key]) => key)).toEqual(["guest:g-2", "verified:u-1", "guest:g-7"]);
    expect(m.readsAsVerified("Alice")).toBe(true);
    expect(m.readsAsVerified("АIice")).toBe(true); // Cyrillic А, capital I
    expect(m.readsAsVerified("bob")).toBe(false);
  });

  it("applies a presence diff as the protocol says: who left first, then who joined", () => {
    const m = new RoomMembers();
    m.welcome(welcome(bob, [alice], 2));
    m.presence({
      type: "presence",
      left: [{ id: "u-1", verified: true }],
      joined: [guestAlice],
      count: 2,
    });
    expect(m.list().map(([key]) => key)).toEqual(["guest:g-2", "guest:g-7"]);
    // A guest's "leave" with the same id never removes a verified member.
    m.presence({ type: "presence", left: [], joined: [alice], count: 3 });
    m.presence({ type: "presence", left: [{ id: "u-1", verified: false }], joined: [], count: 3 });
    expect(m.list().map(([key]) => key)).toContain("verified:u-1");
  });

  it("knows how many it has not been told about, and pages through the rest on request", () => {
    const m = new RoomMembers();
    m.welcome(welcome(bob, [bob], 250, "c1"));
    expect(m.unknown).toBe(249);
    expect(m.nextPage()).toBeUndefined(); // nobody asked yet
    expect(m.fetchAll()).toBe("c1");
    m.page({ type: "members", cursor: "c1", members: [alice], next: "c2", count: 250 });
    expect(m.nextPage()).toBe("c2");
    m.page({ type: "members", cursor: "c2", members: [guestAlice], next: null, count: 250 });
    expect(m.nextPage()).toBeUndefined();
    expect(m.fetching).toBe(false);
  });

  it("says 'mine' by member key, never by name", () => {
    const m = new RoomMembers();
    m.welcome(welcome(guestAlice, [], 1));
    expect(m.isMine(msg("g-7", false))).toBe(true);
    expect(m.isMine(msg("u-1", true))).toBe(false);
    expect(m.isMine(msg("g-7", true))).toBe(false);
  });
});
