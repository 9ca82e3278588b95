// Presence on the room page in a real browser, one object per room; the
// tests are in presence-suite.ts (relays.test.ts runs them over relays).
import { after, before } from "node:test";
import { startDevServer } from "../scripts/dev-server.ts";
import { launchBrowser, type Stage } from "./helpers.ts";
import { presenceSuite } from "./presence-suite.ts";

const stage = {} as Stage;

before(async () => {
  // Every client here comes from 127.0.0.1: room for 150 sockets from one address.
  [stage.server, stage.browser] = await Promise.all([
    startDevServer({ vars: { MAX_CONNECTIONS_PER_ADDRESS: "1000" } }),
    launchBrowser(),
  ]);
});

after(async () => {
  await stage.browser?.close();
  await stage.server?.stop();
});

presenceSuite(stage);
