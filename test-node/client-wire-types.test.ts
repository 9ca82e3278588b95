// The client package keeps its own copy of the wire types
// (packages/client/src/protocol.ts) so it does not depend on the server's
// code. This file fails the typecheck (`tsc -p scripts`) when the copy and
// src/protocol.ts drift apart in either direction, and the run when a close
// code differs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as client from "../packages/client/src/index.ts";
import * as server from "../src/protocol.ts";

/** True only when A and B are the same type (assignable both ways, not `any`). */
type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(ok: Same<A, B>): Same<A, B> => ok;

same<client.ServerFrame, server.ServerFrame>(true);
same<client.ChatMessage, server.ChatMessage>(true);
same<client.ErrorCode, server.ErrorCode>(true);
same<client.Member, server.Member>(true);
same<client.WelcomeFrame, server.WelcomeFrame>(true);
same<client.PresenceFrame, server.PresenceFrame>(true);
same<client.MembersFrame, server.MembersFrame>(true);

describe("the client package's wire types", () => {
  it("use the server's close codes", () => {
    assert.deepEqual(
      [client.CLOSE_REMOVED, client.CLOSE_BANNED, client.CLOSE_SLOW, client.CLOSE_SEND_FAILED],
      [server.CLOSE_REMOVED, server.CLOSE_BANNED, server.CLOSE_SLOW, server.CLOSE_SEND_FAILED],
    );
  });
});
