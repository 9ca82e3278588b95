/**
 * The fan-out policy on its own, with stand-in sockets: who gets which
 * frame (chat one by one, batched, rich only) and what a broken socket does.
 */
import { describe, expect, it } from "vitest";
import { FanOut, tagsFor, type SocketGroups } from "../src/room/fan-out";

class FakeSocket {
  sent: string[] = [];
  broken = false;
  send(frame: string) {
    if (this.broken) throw new Error("closed");
    this.sent.push(frame);
  }
}

function room(specs: { rich: boolean; batch: boolean }[]) {
  const sockets = specs.map((spec) => ({ ws: new FakeSocket(), tags: tagsFor(spec) }));
  const groups: SocketGroups = {
    getWebSockets: (tag?: string) =>
      sockets
        .filter((s) => tag === undefined || s.tags.includes(tag))
        .map((s) => s.ws as unknown as WebSocket),
  };
  const dead: FakeSocket[] = [];
  const fanOut = new FanOut(groups, (ws) => dead.push(ws as unknown as FakeSocket));
  return { fanOut, sockets: sockets.map((s) => s.ws), dead };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("fan-out", () => {
  it("sends chat frames one by one to bare and rich sockets, batched to batch sockets", async () => {
    const { fanOut, sockets } = room([
      { rich: false, batch: false },
      { rich: true, batch: false },
      { rich: true, batch: true },
    ]);
    const [bare, rich, batch] = sockets;
    expect(fanOut.chat("a")).toBe(3);
    expect(fanOut.chat("b")).toBe(3);
    expect(bare!.sent).toEqual(["a", "b"]);
    expect(rich!.sent).toEqual(["a", "b"]);
    expect(batch!.sent).toEqual([]);
    await tick();
    expect(batch!.sent).toEqual(["a\nb"]);
  });

  it("flushes pending batched frames on demand, and only once", async () => {
    const { fanOut, sockets } = room([{ rich: false, batch: true }]);
    fanOut.chat("x");
    fanOut.flush();
    expect(sockets[0]!.sent).toEqual(["x"]);
    await tick();
    expect(sockets[0]!.sent).toEqual(["x"]);
  });

  it("sends rich frames to rich sockets only, batch or not", () => {
    const { fanOut, sockets } = room([
      { rich: false, batch: false },
      { rich: true, batch: false },
      { rich: false, batch: true },
      { rich: true, batch: true },
    ]);
    expect(fanOut.rich("p")).toBe(2);
    expect(sockets.map((s) => s.sent.length)).toEqual([0, 1, 0, 1]);
  });

  it("keeps sending to the others when one socket throws, and reports that one", () => {
    const { fanOut, sockets, dead } = room([
      { rich: false, batch: false },
      { rich: false, batch: false },
      { rich: false, batch: false },
    ]);
    sockets[1]!.broken = true;
    expect(fanOut.chat("m")).toBe(2);
    expect(sockets.map((s) => s.sent)).toEqual([["m"], [], ["m"]]);
    expect(dead).toEqual([sockets[1]]);
  });
});
