/**
 * Send limits follow the sender, not the socket: reconnecting or opening
 * more tabs does not buy more messages. Guests count by address plus name
 * (and all guests of an address together), token holders by member id; a
 * room takes only so many sockets from one address. Numbers from
 * wrangler.toml: 20 messages per 10 s per sender, 200 per address, 100
 * sockets per address.
 */
import { describe, expect, it } from "vitest";
import {
  closeAll,
  connect,
  randomAddress,
  request,
  uniqueRoom,
  wsPath,
  type Client,
} from "./helpers";
import { mintJoinToken } from "../src/identity/join-token";
import { TEST_HISTORY_ON_JOIN, TEST_JOIN_SECRET } from "./test-env";

const PER_SENDER = 20;
const PER_ADDRESS = 200;
const SOCKETS_PER_ADDRESS = 100;

function from(address: string): Record<string, string> {
  return { "CF-Connecting-IP": address };
}

/** Sends `n` messages and waits for the answer to each: how many were accepted. */
async function sendAll(client: Client, n: number, tag: string): Promise<number> {
  const before = client.frames.length;
  for (let i = 0; i < n; i++) client.send({ message: `${tag} ${i}`, clientId: `${tag}-${i}` });
  await client.until(
    (c) =>
      c.frames
        .slice(before)
        .filter((f) => f.type === "error" || String(f.clientId ?? "").startsWith(`${tag}-`))
        .length >= n,
    `${n} answers to ${tag}`,
  );
  return client.frames
    .slice(before)
    .filter((f) => f.type === "chat" && String(f.clientId ?? "").startsWith(`${tag}-`)).length;
}

/** A join token as the backend mints it with JOIN_SECRET. */
async function token(room: string, sub: string): Promise<string> {
  return (await mintJoinToken(TEST_JOIN_SECRET, { sub, name: sub, room }, 600)).token;
}

describe("send limits that follow the sender", () => {
  it("a guest reconnecting under the same name from the same address gets no new allowance", async () => {
    const room = uniqueRoom();
    const address = randomAddress();
    let accepted = 0;
    for (const round of [1, 2, 3]) {
      const socket = await connect(room, "name=mallory", from(address));
      accepted += await sendAll(socket, PER_SENDER, `r${round}`);
      socket.close();
    }
    expect(accepted).toBe(PER_SENDER);
  });

  it("another guest behind the same address, or the same name from elsewhere, has its own allowance", async () => {
    const room = uniqueRoom();
    const address = randomAddress();
    const first = await connect(room, "name=ann", from(address));
    const colleague = await connect(room, "name=bob", from(address));
    const elsewhere = await connect(room, "name=ann", from(randomAddress()));
    try {
      expect(await sendAll(first, PER_SENDER + 5, "ann")).toBe(PER_SENDER);
      expect(await sendAll(colleague, PER_SENDER, "bob")).toBe(PER_SENDER);
      expect(await sendAll(elsewhere, PER_SENDER, "far")).toBe(PER_SENDER);
    } finally {
      closeAll([first, colleague, elsewhere]);
    }
  });

  it("caps all guests of one address together, so new names do not buy more", async () => {
    const room = uniqueRoom();
    const address = randomAddress();
    const names = PER_ADDRESS / PER_SENDER + 1;
    let accepted = 0;
    for (let n = 0; n < names; n++) {
      const socket = await connect(room, `name=guest${n}`, from(address));
      accepted += await sendAll(socket, PER_SENDER, `g${n}`);
      socket.close();
    }
    expect(accepted).toBe(PER_ADDRESS);
  });

  it("counts a token holder by member id over every tab and reconnect, wherever they connect from", async () => {
    const room = uniqueRoom();
    const t = await token(room, "u-42");
    const tab1 = await connect(room, `token=${t}`, from(randomAddress()));
    const tab2 = await connect(room, `token=${t}`, from(randomAddress()));
    try {
      const a = await sendAll(tab1, 12, "tab1");
      const b = await sendAll(tab2, 12, "tab2");
      tab2.close();
      const again = await connect(room, `token=${t}`, from(randomAddress()));
      const c = await sendAll(again, 5, "again");
      again.close();
      expect(a + b + c).toBe(PER_SENDER);
    } finally {
      closeAll([tab1, tab2]);
    }
  });

  it("recognises a resend the room already has before counting it", async () => {
    const room = uniqueRoom();
    const address = randomAddress();
    const socket = await connect(room, "name=resender", from(address));
    try {
      expect(await sendAll(socket, PER_SENDER, "m")).toBe(PER_SENDER);
      // The same 20 again, as a page does after a reconnect: receipts, no errors.
      const again = await connect(room, "name=resender", from(address));
      await again.untilChats(TEST_HISTORY_ON_JOIN);
      expect(await sendAll(again, PER_SENDER, "m")).toBe(PER_SENDER);
      expect(again.ofType("error")).toEqual([]);
      expect(
        again
          .chats()
          .slice(-PER_SENDER)
          .map((f) => f.id),
      ).toEqual(socket.chats().map((f) => f.id));
      // A new message is still over the limit.
      again.send({ message: "new", clientId: "new-1" });
      await again.untilType("error");
      expect(again.ofType("error")[0]).toMatchObject({ code: "rate_limited", clientId: "new-1" });
      again.close();
    } finally {
      socket.close();
    }
  });
});

describe("sockets per address", () => {
  it(`accepts ${SOCKETS_PER_ADDRESS} from one address, refuses the next with 429, and takes one again once a socket closes`, async () => {
    const room = uniqueRoom();
    const address = randomAddress();
    const sockets: Client[] = [];
    try {
      for (let i = 0; i < SOCKETS_PER_ADDRESS; i++)
        sockets.push(await connect(room, "", from(address)));
      const refused = await request(wsPath(room), {
        headers: { Upgrade: "websocket", ...from(address) },
      });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("Retry-After")).toBe("30");
      expect(await refused.json()).toEqual({
        error: `too many connections from your address to this room: at most ${SOCKETS_PER_ADDRESS}`,
      });
      // Another address is not affected.
      sockets.push(await connect(room, "", from(randomAddress())));

      const leaving = sockets.shift()!;
      leaving.close();
      await leaving.untilClosed();
      let again: Response | null = null;
      for (let attempt = 0; attempt < 50; attempt++) {
        again = await request(wsPath(room), {
          headers: { Upgrade: "websocket", ...from(address) },
        });
        if (again.status === 101) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(again?.status).toBe(101);
      again?.webSocket?.accept();
      again?.webSocket?.close();
    } finally {
      closeAll(sockets);
    }
  });
});
