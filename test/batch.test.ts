import { describe, expect, it } from "vitest";
import {
  Client,
  closeAll,
  connect,
  inject,
  request,
  uniqueRoom,
  wsPath,
  type Frame,
} from "./helpers";
import { TEST_HISTORY_ON_JOIN } from "./test-env";

/** A batch client: every WebSocket message may hold several newline-separated frames. */
async function connectBatch(
  room: string,
  query = "",
): Promise<{ client: Client; messages: string[] }> {
  const res = await request(wsPath(room, `batch=1${query ? `&${query}` : ""}`), {
    headers: { Upgrade: "websocket" },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const messages: string[] = [];
  // Record raw messages, then let the Client helper see the frames split.
  ws.addEventListener("message", (e) => messages.push(e.data as string));
  const client = new SplitClient(ws);
  return { client, messages };
}

class SplitClient extends Client {
  constructor(ws: WebSocket) {
    const split = new EventTarget();
    ws.addEventListener("message", (e) => {
      for (const line of (e.data as string).split("\n"))
        split.dispatchEvent(new MessageEvent("message", { data: line }));
    });
    ws.addEventListener("close", (e) => split.dispatchEvent(new CloseEvent("close", e)));
    super(
      Object.assign(split, {
        accept: () => ws.accept(),
        send: ws.send.bind(ws),
        close: ws.close.bind(ws),
      }) as unknown as WebSocket,
    );
  }
}

const ids = (frames: Frame[]) => frames.filter((f) => f.type === "chat").map((f) => f.id as number);

describe("batched frames (?batch=1)", () => {
  it("packs messages that arrive together into fewer frames, in order, while tutorial clients get one per frame", async () => {
    const room = uniqueRoom();
    const { client: batch, messages } = await connectBatch(room);
    const plain = await connect(room);
    try {
      await Promise.all(Array.from({ length: 30 }, (_, i) => inject(room, `m${i + 1}`)));
      await Promise.all([batch.untilChats(30), plain.untilChats(30)]);
      expect(ids(batch.frames)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(ids(plain.frames)).toEqual(ids(batch.frames));
      expect(plain.raw.length).toBe(30);
      expect(messages.length).toBeLessThan(30);
      for (const m of messages)
        for (const line of m.split("\n")) expect(JSON.parse(line).type).toBe("chat");
    } finally {
      closeAll([batch, plain]);
    }
  });

  it("counts batch members as reached in the inject answer", async () => {
    const room = uniqueRoom();
    const { client } = await connectBatch(room);
    try {
      expect(await (await inject(room, "x")).json()).toEqual({ id: 1, delivered: 1 });
      await client.untilChats(1);
    } finally {
      client.close();
    }
  });

  it("sends a joiner's history in one frame and loses nothing pending at the seam", async () => {
    const room = uniqueRoom();
    for (let i = 0; i < 8; i++) await inject(room, `old${i}`);
    const { client: early } = await connectBatch(room);
    const sending = Promise.all(Array.from({ length: 20 }, (_, i) => inject(room, `burst${i}`)));
    const joiners: Awaited<ReturnType<typeof connectBatch>>[] = [];
    for (let i = 0; i < 5; i++) joiners.push(await connectBatch(room));
    await sending;
    try {
      await early.untilChats(TEST_HISTORY_ON_JOIN + 20);
      expect(ids(early.frames)).toEqual(
        Array.from({ length: TEST_HISTORY_ON_JOIN + 20 }, (_, i) => 4 + i),
      );
      for (const { client, messages } of joiners) {
        await client.until((c) => ids(c.frames).at(-1) === 28, "id 28");
        const got = ids(client.frames);
        expect(got).toEqual(Array.from({ length: got.length }, (_, i) => got[0]! + i));
        expect(messages[0]!.split("\n")).toHaveLength(TEST_HISTORY_ON_JOIN);
      }
    } finally {
      closeAll([early, ...joiners.map((j) => j.client)]);
    }
  });
});
