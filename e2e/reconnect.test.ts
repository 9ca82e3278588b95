// Pages that lose their socket reconnect by themselves, one object per room;
// the tests are in reconnect-suite.ts (relays.test.ts runs them over relays).
import { after, before } from "node:test";
import { startDevServer } from "../scripts/dev-server.ts";
import { launchBrowser, type Stage } from "./helpers.ts";
import { reconnectSuite } from "./reconnect-suite.ts";

// A join without `since` replays only the latest 2 messages (see the suite).
const vars = { HISTORY_ON_JOIN: "2" };
const stage = {} as Stage;

before(async () => {
  [stage.server, stage.browser] = await Promise.all([startDevServer({ vars }), launchBrowser()]);
  stage.restart = () =>
    startDevServer({
      port: stage.server.port,
      persistTo: stage.server.persistTo,
      token: stage.server.token,
      vars,
    });
});

after(async () => {
  await stage.browser?.close();
  await stage.server?.stop();
});

reconnectSuite(stage);
