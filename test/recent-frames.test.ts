/**
 * The in-memory copy of the newest chat frames that joins are served from:
 * it must answer exactly what storage would, or say it cannot.
 */
import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../src/protocol";
import { serialize } from "../src/protocol";
import { RecentFrames } from "../src/room/recent-frames";

const msg = (id: number): ChatMessage => ({ id, message: `m${id}`, user: "u", ts: id });
const ids = (frames: string[] | null) =>
  frames === null ? null : frames.map((f) => (JSON.parse(f) as { id: number }).id);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

function filled(capacity: number, stored: number, pushed: number) {
  const recent = new RecentFrames(capacity);
  recent.load(range(1, stored).slice(-capacity).map(msg));
  for (let id = stored + 1; id <= stored + pushed; id++) recent.push(id, serialize(msg(id)));
  return recent;
}

describe("recent frames", () => {
  it("is not used before it is loaded", () => {
    const recent = new RecentFrames(5);
    expect(recent.latest(3)).toBeNull();
    expect(recent.after(0, 10, 0)).toBeNull();
  });

  it("serves the latest messages as the chat frames live members got", () => {
    const recent = filled(5, 3, 4);
    expect(ids(recent.latest(3))).toEqual([5, 6, 7]);
    expect(ids(recent.latest(5))).toEqual([3, 4, 5, 6, 7]);
    expect(JSON.parse(recent.latest(1)![0]!)).toEqual({ type: "chat", ...msg(7) });
  });

  it("serves everything stored when the room holds fewer than asked", () => {
    expect(ids(filled(5, 2, 0).latest(4))).toEqual([1, 2]);
    expect(ids(filled(5, 0, 0).latest(4))).toEqual([]);
  });

  it("serves nothing when asked for none (HISTORY_ON_JOIN = 0)", () => {
    expect(filled(5, 3, 4).latest(0)).toEqual([]);
    expect(filled(5, 20, 0).latest(0)).toEqual([]);
  });

  it("defers to storage when more is asked than it holds", () => {
    expect(filled(5, 20, 0).latest(8)).toBeNull();
  });

  it("serves a resume after since when it reaches back that far, else defers to storage", () => {
    const recent = filled(5, 10, 2); // holds 8..12
    expect(ids(recent.after(9, 100, 12))).toEqual([10, 11, 12]);
    expect(ids(recent.after(7, 100, 12))).toEqual([8, 9, 10, 11, 12]);
    expect(ids(recent.after(7, 2, 12))).toEqual([8, 9]);
    expect(recent.after(12, 100, 12)).toEqual([]);
    expect(recent.after(99, 100, 12)).toEqual([]);
    expect(recent.after(6, 100, 12)).toBeNull();
  });

  it("starts from the first stored message in an empty room", () => {
    const recent = filled(5, 0, 3);
    expect(ids(recent.after(0, 100, 3))).toEqual([1, 2, 3]);
  });

  it("after clear, defers to storage until loaded again", () => {
    const recent = filled(5, 3, 0);
    recent.clear();
    expect(recent.latest(2)).toBeNull();
    expect(recent.loaded).toBe(false);
  });
});
