// Opening a room socket the way a script does, for the user-path tests: the
// promise settles once, with the open socket or with why it was refused.
import { WebSocket } from "ws";

/** Opens `url`, from `localAddress` if given (wrangler dev passes it on as CF-Connecting-IP). */
export function openSocket(url: string, what: string, localAddress?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, localAddress ? { localAddress } : {});
  return new Promise((done, fail) => {
    ws.once("open", () => done(ws));
    ws.once("unexpected-response", (_req, res) =>
      fail(Object.assign(new Error(`${what}: HTTP ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.once("error", fail);
  });
}
