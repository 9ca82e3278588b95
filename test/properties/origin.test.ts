/**
 * The Origin header on the WebSocket route (docs/protocol.md, 403): browsers
 * send it on every upgrade and do not apply CORS to WebSockets. Allowed: no
 * Origin (scripts, CLIs; an empty header counts as none), this service's own
 * origin (same scheme, host and port, as the URL standard defines an origin)
 * and the origins in ALLOWED_ORIGINS (empty in the tests). Everything else is a
 * JSON 403.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ORIGIN, request, uniqueRoom, wsPath } from "../helpers";
import { opts } from "./arbitraries";
import { answer, upgrade } from "./http";

describe("the Origin header", () => {
  it("lets in no Origin and the page's own origin, and refuses everything else with a JSON 403", async () => {
    const room = uniqueRoom("origin");
    const host = new URL(ORIGIN).host;
    const origin = fc.oneof(
      fc.webUrl().map((u) => new URL(u).origin),
      fc.constantFrom(
        ORIGIN,
        `http://${host}`,
        `${ORIGIN}:8443`,
        `https://evil.${host}`,
        `https://${host}.evil.example`,
        "null",
        "",
        "file://",
        "https://",
        ORIGIN.toUpperCase(),
      ),
      fc.string({ maxLength: 30 }).filter((s) => !/[\r\n\0]/.test(s) && s.trim() === s),
    );
    await fc.assert(
      fc.asyncProperty(fc.option(origin, { nil: undefined }), async (o) => {
        // An empty header counts as no header, like a script that sends none.
        let allowed = o === undefined || o === "";
        try {
          allowed ||= o !== undefined && new URL(o).origin === new URL(ORIGIN).origin;
        } catch {
          // not a URL: refused
        }
        const headers: Record<string, string> = {
          ...upgrade,
          ...(o === undefined ? {} : { Origin: o }),
        };
        const a = await answer(await request(wsPath(room), { headers }), [101, 403]);
        expect({ origin: o, status: a.status }).toEqual({ origin: o, status: allowed ? 101 : 403 });
      }),
      opts(60, false),
    );
  });
});
