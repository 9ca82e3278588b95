/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * Valid messages (docs/protocol.md): whatever the text, a message the room
 * accepts reaches every member exactly as sent, from a socket or the inject
 * API, and reads back identically from history. Text that is not well-formed
 * UTF-16 (a lone surrogate, legal in JSON) is delivered and stored the same way.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { api, closeAll, connect, uniqueRoom, Client } from "../helpers";
import { opts, validMessage } from "./arbitraries";
import { answer, bearer, postMessage } from "./http";

async function historyAt(room: string, id: number) {
  const res = await api(`/rooms/${encodeURIComponent(room)}/messages?since=${id - 1}&limit=1`, {
    headers: bearer(),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: { id: number; message: string; user: string }[] })
    .messages[0];
}

describe("valid messages", () => {
  it("arrive byte-identical to every member, from a socket or the inject API, and read back identically from history", async () => {
    const room = uniqueRoom("unicode");
    const observer = await connect(room);
    const senders: Client[] = [];
    let sent = 0;
    try {
      await fc.assert(
        fc.asyncProperty(validMessage, fc.boolean(), async (message, viaSocket) => {
          const before = observer.chats().length;
          if (viaSocket) {
            // A fresh connection every 15 messages keeps clear of the rate limit.
            if (sent % 15 === 0) {
              senders.at(-1)?.close();
              senders.push(await connect(room, "name=sender"));
            }
            sent++;
            senders.at(-1)!.send({ message });
          } else {
            const a = await answer(await postMessage(room, JSON.stringify({ message })), [201]);
            expect(typeof a.json.id).toBe("number");
          }
          await observer.untilChats(before + 1);
          const frame = observer.chats()[before]!;
          expect(frame.message).toBe(message);
          expect((await historyAt(room, frame.id as number))?.message).toBe(message);
        }),
        opts(40, false),
      );
    } finally {
      closeAll([observer, ...senders]);
    }
  });

  // A lone surrogate cannot be stored as UTF-8; members online and members
  // resuming with since= must see the same text.
  it("a message with a lone surrogate reads back from history exactly as it was delivered", async () => {
    const room = uniqueRoom("surrogate");
    const observer = await connect(room);
    try {
      observer.send({ message: "half \ud83d of an emoji" });
      // Refusing it with an error frame would be a fix too.
      await observer.until((c) => c.frames.length > 0, "an answer");
      const live = observer.chats()[0];
      const stored = live && (await historyAt(room, live.id as number));
      expect(stored?.message).toBe(live?.message);
    } finally {
      observer.close();
    }
  });

  it("an injected user name with a lone surrogate reads back from history exactly as it was delivered", async () => {
    const room = uniqueRoom("surrogate-user");
    const observer = await connect(room);
    try {
      const a = await answer(
        await postMessage(room, '{"message":"hi","user":"bot\\udc00"}'),
        [201, 400],
      );
      // Refusing it with a 400 would be a fix too.
      if (a.status === 201) await observer.untilChats(1);
      const live = observer.chats()[0];
      const stored = live && (await historyAt(room, live.id as number));
      expect(stored?.user).toBe(live?.user);
    } finally {
      observer.close();
    }
  });
});
