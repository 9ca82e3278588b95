import { describe, expect, it } from "vitest";
import { api, closeAll, connect, uniqueRoom } from "./helpers";

async function stored(room: string): Promise<{ id: number; message: string; clientId?: string }[]> {
  const res = await api(`/rooms/${room}/messages`);
  return ((await res.json()) as { messages: { id: number; message: string; clientId?: string }[] })
    .messages;
}

describe("clientId: resending a message never stores it twice", () => {
  it("echoes the clientId to every member, and answers a resend with the stored message to the sender only", async () => {
    const room = uniqueRoom();
    const phone = await connect(room, "name=phone");
    const friend = await connect(room, "name=friend");
    try {
      phone.send({ message: "on my way", clientId: "c-1" });
      await friend.untilChats(1);
      expect(friend.chats()[0]).toMatchObject({ id: 1, message: "on my way", clientId: "c-1" });

      phone.send({ message: "on my way", clientId: "c-1" });
      await phone.untilChats(2);
      expect(phone.chats().map((f) => [f.id, f.clientId])).toEqual([
        [1, "c-1"],
        [1, "c-1"],
      ]);
      await friend.quiet();
      expect(friend.chats()).toHaveLength(1);
      expect(await stored(room)).toEqual([expect.objectContaining({ id: 1, clientId: "c-1" })]);
    } finally {
      closeAll([phone, friend]);
    }
  });

  it("recognises a resend from a new connection, and replays clientIds in history", async () => {
    const room = uniqueRoom();
    const first = await connect(room);
    first.send({ message: "did this arrive?", clientId: "retry-me" });
    await first.untilChats(1);
    first.close();

    const again = await connect(room, "since=0");
    try {
      await again.untilChats(1);
      expect(again.chats()[0]).toMatchObject({ id: 1, clientId: "retry-me" });
      again.send({ message: "did this arrive?", clientId: "retry-me" });
      again.send({ message: "new one", clientId: "fresh" });
      await again.until((c) => c.chats().some((f) => f.clientId === "fresh"), "the new message");
      expect((await stored(room)).map((m) => [m.id, m.clientId])).toEqual([
        [1, "retry-me"],
        [2, "fresh"],
      ]);
    } finally {
      again.close();
    }
  });

  it("names the clientId of a refused message, and refuses a malformed clientId", async () => {
    const room = uniqueRoom();
    const client = await connect(room);
    try {
      client.send({ message: "   ", clientId: "blank-1" });
      client.send({ message: "hi", clientId: "has spaces" });
      client.send({ message: "hi", clientId: 42 });
      await client.untilType("error", 3);
      expect(client.ofType("error").map((e) => [e.code, e.clientId])).toEqual([
        ["empty_message", "blank-1"],
        ["bad_frame", undefined],
        ["bad_frame", undefined],
      ]);
      expect(await stored(room)).toEqual([]);
    } finally {
      client.close();
    }
  });
});
