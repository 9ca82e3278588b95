/**
 * Moderation by kind (docs/http-api.md, docs/identity.md "Moderation"): a
 * verified member is known by its join token's `sub`, a guest by the id its
 * `?guest=` key gives in this room, and the two never stand for each other.
 * A ban on a keyed guest keeps that key out; a keyless guest (a new id on
 * every connection) can be removed but not banned, and the API says so.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintJoinToken } from "../src/identity/join-token";
import { api, Client, closeAll, connect, request, uniqueRoom, wsPath } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

const guestKey = () => `key-${crypto.randomUUID()}`;

async function token(room: string, sub: string): Promise<string> {
  return (await mintJoinToken(TEST_JOIN_SECRET, { sub, name: sub, room }, 600)).token;
}

function remove(room: string, id: string, query = ""): Promise<Response> {
  return api(`/rooms/${encodeURIComponent(room)}/members/${encodeURIComponent(id)}${query}`, {
    method: "DELETE",
  });
}

async function joinStatus(
  room: string,
  query: string,
): Promise<{ status: number; error?: string }> {
  const res = await request(wsPath(room, query), { headers: { Upgrade: "websocket" } });
  if (res.status === 101) {
    new Client(res.webSocket!).close();
    return { status: 101 };
  }
  return { status: res.status, error: ((await res.json()) as { error: string }).error };
}

async function idOf(client: Client): Promise<string> {
  await client.untilType("welcome");
  return client.ofType("welcome")[0]!.you.id as string;
}

describe("banning a guest", () => {
  it("keeps a guest's key out of the room until the ban ends, and nowhere else", async () => {
    const room = uniqueRoom();
    const key = guestKey();
    const guest = await connect(room, `rich=1&name=pest&guest=${key}`);
    const id = await idOf(guest);
    const res = await remove(room, id, "?ban=600");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ disconnected: 1, bannedUntil: expect.any(String) });
    await guest.untilClosed();
    expect(guest.closed!.code).toBe(4003);

    expect(await joinStatus(room, `name=pest&guest=${key}`)).toEqual({
      status: 403,
      error: expect.stringMatching(/^banned from this room until /),
    });
    // Another name does not help: the key is what is banned.
    expect((await joinStatus(room, `name=someone-else&guest=${key}`)).status).toBe(403);
    // Another room is another id.
    expect((await joinStatus(uniqueRoom(), `guest=${key}`)).status).toBe(101);
  });

  it("refuses with 422 to ban a guest without a key, whose id is new on every connection, and still removes it", async () => {
    const room = uniqueRoom();
    const guest = await connect(room, "rich=1&name=drifter");
    const id = await idOf(guest);
    const banned = await remove(room, id, "?ban=600");
    expect(banned.status).toBe(422);
    expect(((await banned.json()) as { error: string }).error).toMatch(
      /without one gets a new id on every connection, so it can be removed \(leave out \?ban=\) but not kept out/,
    );
    // Nothing happened to the guest.
    expect(guest.closed).toBeNull();
    const removed = await remove(room, id);
    expect(removed.status).toBe(200);
    await guest.untilClosed();
    expect(guest.closed!.code).toBe(4001);
  });
});

/** A keyed guest, and a token holder whose sub is that guest's id. */
async function twins(room: string): Promise<{ guest: Client; member: Client; id: string }> {
  const key = guestKey();
  const guest = await connect(room, `rich=1&name=guest&guest=${key}`);
  const id = await idOf(guest);
  const member = await connect(room, `rich=1&token=${await token(room, id)}`);
  expect(await idOf(member)).toBe(id);
  return { guest, member, id };
}

describe("a guest and a verified member with the same id", () => {
  it("asks which one with 409 when the kind is left out, and removes neither", async () => {
    const room = uniqueRoom();
    const { guest, member, id } = await twins(room);
    try {
      const res = await remove(room, id);
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /add \?kind=guest or \?kind=verified/,
      );
      expect([guest.closed, member.closed]).toEqual([null, null]);
    } finally {
      closeAll([guest, member]);
    }
  });

  it("removes and bans only the verified member with ?kind=verified", async () => {
    const room = uniqueRoom();
    const { guest, member, id } = await twins(room);
    try {
      const res = await remove(room, id, "?kind=verified&ban=600");
      expect(await res.json()).toMatchObject({ disconnected: 1 });
      await member.untilClosed();
      expect(member.closed!.code).toBe(4003);
      expect(guest.closed).toBeNull();
      expect((await joinStatus(room, `token=${await token(room, id)}`)).status).toBe(403);
    } finally {
      guest.close();
    }
  });

  it("removes only the guest with ?kind=guest", async () => {
    const room = uniqueRoom();
    const { guest, member, id } = await twins(room);
    try {
      const res = await remove(room, id, "?kind=guest");
      expect(await res.json()).toMatchObject({ disconnected: 1, bannedUntil: null });
      await guest.untilClosed();
      expect(guest.closed!.code).toBe(4001);
      expect(member.closed).toBeNull();
    } finally {
      member.close();
    }
  });

  it("does not keep a guest out with a ban on a verified member's sub", async () => {
    const room = uniqueRoom();
    const key = guestKey();
    const probe = await connect(room, `rich=1&guest=${key}`);
    const id = await idOf(probe);
    probe.close();
    await probe.untilClosed();
    expect((await remove(room, id, "?kind=verified&ban=600")).status).toBe(200);
    expect((await joinStatus(room, `guest=${key}`)).status).toBe(101);
    expect((await joinStatus(room, `token=${await token(room, id)}`)).status).toBe(403);
  });
});

describe("bans stored before bans had kinds", () => {
  it("are kept as bans on verified members", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec(
        "CREATE TABLE bans (member_id TEXT PRIMARY KEY, until INTEGER NOT NULL)",
      );
      state.storage.sql.exec("INSERT INTO bans VALUES ('old-troll', ?)", Date.now() + 600_000);
    });
    await evictDurableObject(stub);
    expect((await joinStatus(room, `token=${await token(room, "old-troll")}`)).status).toBe(403);
    expect((await joinStatus(room, `token=${await token(room, "someone")}`)).status).toBe(101);
  });
});

describe("the kind parameter", () => {
  it("refuses any kind but guest or verified with 400", async () => {
    const res = await remove(uniqueRoom(), "u-1", "?kind=admin");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /^invalid kind: use "verified"/,
    );
  });
});
