// `npm run test:django`: the Django integration's tests (Django's own test
// runner, Debian's python3-django, -django-channels and -jwt) against the
// chat service started as a user starts it (`npm run dev` in a copy of the
// project, secrets in its .dev.vars), with CHAT_URL, BROADCAST_TOKEN and
// JOIN_SECRET in the environment the way a Django site would have them.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { freePort, PROJECT_ROOT, startProjectCopy } from "./dev-server.ts";

const PYTHON = process.env.DJANGO_PYTHON ?? "/usr/bin/python3";
const DJANGO_DIR = resolve(PROJECT_ROOT, "integrations/django");

const broadcastToken = randomBytes(24).toString("base64url");
const joinSecret = randomBytes(24).toString("base64url");
// The rooms' webhooks and publish hook go to the example site's views,
// served by the tests' LiveServerTestCase on this port. While no live server
// runs, the hook is down and members' messages are refused (the default
// failure policy, "closed"); the other tests post through the API, which
// the hook does not see.
const livePort = await freePort();
const webhooks = {
  WEBHOOK_URL: `http://127.0.0.1:${livePort}/hooks/chat/`,
  PUBLISH_HOOK_URL: `http://127.0.0.1:${livePort}/hooks/publish/`,
  WEBHOOK_KEY: "django-tests",
  WEBHOOK_SECRET: randomBytes(24).toString("base64url"),
};
const server = await startProjectCopy({
  devVars: { BROADCAST_TOKEN: broadcastToken, JOIN_SECRET: joinSecret, ...webhooks },
});
let code: number | null = 1;
try {
  code = await new Promise<number | null>((done, fail) => {
    const child = spawn(
      PYTHON,
      ["-m", "django", "test", "--settings", "tests.settings", ...process.argv.slice(2)],
      {
        cwd: DJANGO_DIR,
        stdio: "inherit",
        env: {
          ...process.env,
          PYTHONPATH: DJANGO_DIR,
          CHAT_URL: server.url,
          BROADCAST_TOKEN: broadcastToken,
          JOIN_SECRET: joinSecret,
          WEBHOOK_KEY: webhooks.WEBHOOK_KEY,
          WEBHOOK_SECRET: webhooks.WEBHOOK_SECRET,
          DJANGO_LIVE_PORT: String(livePort),
        },
      },
    );
    child.on("error", (err) =>
      fail(
        new Error(
          `cannot run ${PYTHON}: install Debian's python3-django python3-django-channels python3-jwt`,
          { cause: err },
        ),
      ),
    );
    child.on("exit", done);
  });
} finally {
  await server.remove();
}
process.exit(code ?? 1);
