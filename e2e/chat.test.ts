// The chat pages in a real browser against a real `wrangler dev`, one object
// per room; the tests themselves are in chat-suite.ts (relays.test.ts runs
// them again over relays).
import { after, before } from "node:test";
import { startDevServer } from "../scripts/dev-server.ts";
import { chatSuite } from "./chat-suite.ts";
import { launchBrowser, type Stage } from "./helpers.ts";

const JOIN_SECRET = `e2e-${crypto.randomUUID()}`;
const stage = {} as Stage;

before(async () => {
  [stage.server, stage.browser] = await Promise.all([
    startDevServer({ vars: { JOIN_SECRET } }),
    launchBrowser(),
  ]);
});

after(async () => {
  await stage.browser?.close();
  await stage.server?.stop();
});

chatSuite(stage, { joinSecret: JOIN_SECRET, screenshots: true });
