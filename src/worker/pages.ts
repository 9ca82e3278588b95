/**
 * @module pages
 * The HTML pages: the lobby (/ and /chat/), a room (/chat/<room>/) and the
 * moderator's console (/console/).
 * Rendered here rather than served as static files so that every page gets
 * the Content-Security-Policy and the other secure headers, the room's name
 * is in the title before any script runs, and a bad room name gets a real
 * 400 page. Scripts and styles are static assets in public/ (client/ is
 * bundled into public/client/ by scripts/build-client.mjs).
 *
 * Mounted with `app.route("/", pages)`. Hono copies a sub-app's `use("*")`
 * middleware onto every route of the parent, so secureHeaders is attached
 * to each page route instead: it must never touch /ws/* (101 responses).
 */
import { Hono, type Context } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { secureHeaders } from "hono/secure-headers";
import { DEFAULTS, roomConfig } from "../config";
import { MAX_ROOM_CHARS, parseRoomName, parseRoomSegment } from "../identity/room-name";

type Page = HtmlEscapedString | Promise<HtmlEscapedString>;

/** This host's own WebSocket origin; 'self' covers it in CSP 3, spelled out for older browsers. */
const ownSocketOrigin = (c: Context) => {
  const url = new URL(c.req.url);
  return `${url.protocol === "https:" ? "wss:" : "ws:"}//${url.host}`;
};

const pageHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    connectSrc: ["'self'", ownSocketOrigin],
    manifestSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
  xFrameOptions: "DENY",
  permissionsPolicy: { camera: [], microphone: [], geolocation: [] },
});

export const pages = new Hono<{ Bindings: Env }>();

const roomHint = `Any language, 1 to ${MAX_ROOM_CHARS} characters, no “/”.`;

/** Limits the browser checks before the server does; from the Worker's vars. */
interface Limits {
  maxNameChars: number;
  maxMessageChars: number;
}

function layout(
  title: string,
  bodyClass: string,
  limits: Limits,
  head: Page | "",
  body: Page,
): Page {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
        <meta name="color-scheme" content="light dark" />
        <title>${title}</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/style.css" />
        <meta name="chat-max-name-chars" content="${limits.maxNameChars}" />
        <meta name="chat-max-message-chars" content="${limits.maxMessageChars}" />
        ${head}
      </head>
      <body class="${bodyClass}">
        ${body}
      </body>
    </html> `;
}

const logo = html`<svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
  <path d="M6 7h20a3 3 0 0 1 3 3v10a3 3 0 0 1-3 3H14l-6 5v-5H6a3 3 0 0 1-3-3V10a3 3 0 0 1 3-3z" />
</svg>`;

function lobbyPage(limits: Limits): Page {
  return layout(
    "Edge chat rooms",
    "lobby-page",
    limits,
    html`<script src="/client/lobby.js" defer></script>`,
    html`<main class="lobby">
      <header class="brand">
        ${logo}
        <h1>Edge chat rooms</h1>
        <p class="tagline">
          Pick a room and start talking. Everyone who opens the same room joins you.
        </p>
      </header>
      <form id="room-form" class="card" action="/chat/" method="get" novalidate>
        <div class="field">
          <label for="room-name-input">Room</label>
          <div class="row">
            <input
              id="room-name-input"
              name="room"
              type="text"
              autofocus
              required
              autocomplete="off"
              autocapitalize="off"
              spellcheck="false"
              enterkeyhint="go"
              placeholder="lobby"
              aria-describedby="room-name-hint room-name-error"
            />
            <button id="room-name-submit" type="submit">Enter</button>
          </div>
          <p id="room-name-hint" class="hint">${roomHint}</p>
          <p id="room-name-error" class="error" role="alert"></p>
        </div>
        <div class="field">
          <label for="display-name-input">Your name</label>
          <input
            id="display-name-input"
            type="text"
            autocomplete="nickname"
            placeholder="a guest name is made up for you"
            aria-describedby="display-name-hint display-name-error"
          />
          <p id="display-name-hint" class="hint">
            Remembered on this device. Up to ${limits.maxNameChars} characters.
          </p>
          <p id="display-name-error" class="error" role="alert"></p>
        </div>
      </form>
      <section id="recent-rooms" class="card" aria-labelledby="recent-rooms-heading" hidden>
        <div class="section-head">
          <h2 id="recent-rooms-heading">Recent rooms</h2>
          <button id="recent-rooms-clear" type="button" class="link-button">Clear</button>
        </div>
        <ul id="recent-room-list" class="room-list"></ul>
      </section>
    </main>`,
  );
}

function roomPage(room: string, limits: Limits): Page {
  return layout(
    `${room} · Edge chat`,
    "room-page",
    limits,
    // A classic script in <head>, on purpose: see client/room.ts.
    html`<script src="/client/room.js"></script>`,
    html`<div class="app">
      <header class="topbar">
        <a class="back" href="/" aria-label="All rooms">
          <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M15 5l-7 7 7 7" />
          </svg>
        </a>
        <div class="room-title">
          <h1 id="room-name">${room}</h1>
          <p id="connection-status" data-state="connecting" role="status">
            <span class="dot" aria-hidden="true"></span>
            <span id="connection-status-text">Connecting…</span>
          </p>
        </div>
      </header>
      <details id="members" class="members">
        <summary>Here now <span id="member-count" class="count">0</span></summary>
        <ul id="member-list" class="member-list"></ul>
        <form id="name-form" class="name-form" method="dialog">
          <label for="display-name-input">Your name</label>
          <div class="row">
            <input
              id="display-name-input"
              type="text"
              autocomplete="nickname"
              placeholder="guest"
              aria-describedby="display-name-error"
            />
            <button type="submit" class="secondary">Save</button>
          </div>
          <p class="hint">You are <strong id="my-name">…</strong></p>
          <p id="display-name-error" class="error" role="alert"></p>
        </form>
      </details>
      <main class="chat">
        <noscript
          ><p class="empty">
            Chatting needs JavaScript: please turn it on for this site.
          </p></noscript
        >
        <p id="chat-empty" class="empty" hidden>No messages yet. Say hello!</p>
        <ol
          id="chat-log"
          class="log"
          aria-live="polite"
          aria-relevant="additions"
          aria-label="Messages"
          tabindex="0"
        ></ol>
        <form id="chat-form" class="composer" method="dialog">
          <label for="chat-message-input" class="visually-hidden">Message</label>
          <input
            id="chat-message-input"
            type="text"
            autofocus
            autocomplete="off"
            enterkeyhint="send"
            maxlength="${limits.maxMessageChars}"
            placeholder="Message ${room}"
            aria-describedby="chat-error"
          />
          <button id="chat-message-submit" type="submit">Send</button>
          <p id="chat-error" class="error" role="alert"></p>
        </form>
      </main>
    </div>`,
  );
}

/** Ban lengths the console offers, in seconds (the API takes any up to a year). */
const BAN_CHOICES: [number, string][] = [
  [60, "1 minute"],
  [600, "10 minutes"],
  [3600, "1 hour"],
  [86400, "1 day"],
  [604800, "7 days"],
];

/**
 * The moderator's console. Everything it shows comes from the bearer API,
 * called by client/console.ts with the credential typed here; the page
 * itself holds no data and is the same for everyone.
 */
function consolePage(limits: Limits): Page {
  return layout(
    "Moderator console · Edge chat",
    "console-page",
    limits,
    html`<script src="/client/console.js" defer></script>`,
    html`<main class="console">
      <header class="console-head">
        ${logo}
        <h1>Moderator console</h1>
        <p id="console-status" class="hint" role="status"></p>
      </header>
      <form id="console-login" class="card" method="dialog" novalidate>
        <div class="field">
          <label for="console-token">Moderator credential</label>
          <input
            id="console-token"
            type="password"
            required
            autocomplete="current-password"
            spellcheck="false"
            aria-describedby="console-token-hint console-login-error"
          />
          <p id="console-token-hint" class="hint">
            The service's BROADCAST_TOKEN. Kept in this tab only, until you sign out or close it.
          </p>
        </div>
        <div class="field">
          <label for="console-room">Room</label>
          <div class="row">
            <input
              id="console-room"
              type="text"
              required
              autocomplete="off"
              autocapitalize="off"
              spellcheck="false"
              placeholder="lobby"
            />
            <button id="console-open" type="submit">Open</button>
          </div>
        </div>
        <p id="console-login-error" class="error" role="alert"></p>
      </form>
      <div id="console-room-view" class="console-grid" hidden>
        <section class="card console-bar" aria-label="Room">
          <h2 id="console-room-name"></h2>
          <p class="console-stats">
            <span><strong id="console-member-count">0</strong> members</span>
            <span><strong id="console-rate">0</strong> msg/s</span>
          </p>
          <div class="row">
            <button id="console-switch" type="button" class="secondary">Other room</button>
            <button id="console-signout" type="button" class="secondary">Sign out</button>
          </div>
        </section>
        <section class="card console-chart-card" aria-labelledby="console-chart-title">
          <div class="section-head">
            <h2 id="console-chart-title">Activity</h2>
            <label class="visually-hidden" for="console-window">Chart window</label>
            <select id="console-window" class="console-window">
              <option value="1">last minute</option>
              <option value="5" selected>last 5 minutes</option>
              <option value="15">last 15 minutes</option>
            </select>
          </div>
          <svg
            id="console-chart"
            viewBox="0 0 360 150"
            role="img"
            aria-label="Messages per second and members over the chosen window"
          ></svg>
          <p class="hint">
            <span class="key key-rate"></span> messages/s
            <span class="key key-members"></span> members
          </p>
        </section>
        <section class="card console-members-card" aria-labelledby="console-members-title">
          <h2 id="console-members-title">Members</h2>
          <ul id="console-members" class="console-members"></ul>
          <p id="console-members-more" class="hint" hidden></p>
        </section>
        <section class="card console-log-card" aria-labelledby="console-log-title">
          <h2 id="console-log-title">Messages</h2>
          <ol
            id="console-log"
            class="console-log"
            aria-live="polite"
            aria-relevant="additions"
          ></ol>
          <form id="console-post" class="console-post" method="dialog">
            <label for="console-post-user">As</label>
            <input id="console-post-user" type="text" value="moderator" autocomplete="off" />
            <label for="console-post-message">Message</label>
            <input
              id="console-post-message"
              type="text"
              autocomplete="off"
              maxlength="${limits.maxMessageChars}"
            />
            <button id="console-post-submit" type="submit">Post as the room</button>
          </form>
        </section>
        <section class="card console-answer-card" aria-labelledby="console-answer-title">
          <h2 id="console-answer-title">Last action</h2>
          <pre id="console-answer" class="console-answer" role="status">Nothing yet.</pre>
        </section>
      </div>
      <dialog
        id="console-confirm"
        class="card console-confirm"
        aria-labelledby="console-confirm-text"
      >
        <form method="dialog">
          <p id="console-confirm-text"></p>
          <div class="field" id="console-ban-field">
            <label for="console-ban-seconds">Ban for</label>
            <select id="console-ban-seconds">
              ${BAN_CHOICES.map(([s, label]) => html`<option value="${s}">${label}</option>`)}
            </select>
          </div>
          <div class="row">
            <button id="console-confirm-yes" type="submit" value="yes">Remove</button>
            <button id="console-confirm-no" type="submit" value="no" class="secondary">
              Cancel
            </button>
          </div>
        </form>
      </dialog>
    </main>`,
  );
}

function problemPage(title: string, detail: string, hint: string): Page {
  return layout(
    `${title} · Edge chat`,
    "lobby-page",
    DEFAULTS,
    "",
    html`<main class="lobby">
      <section class="card problem" aria-labelledby="problem-title">
        ${logo}
        <h1 id="problem-title">${title}</h1>
        <p class="detail">${detail}</p>
        <p class="hint">${hint}</p>
        <a class="button" href="/">Go to the lobby</a>
      </section>
    </main>`,
  );
}

function badRoom(c: Context, reason: string) {
  return c.html(
    problemPage(
      "That room name doesn't work",
      `The ${reason}.`,
      `Room names can be in any language: ${MAX_ROOM_CHARS} characters at most, with no “/”, no control characters and no spaces at either end.`,
    ),
    400,
  );
}

/** The lobby; `?room=` is the lobby form submitted before its script loaded. */
const lobby = (c: Context<{ Bindings: Env }>) => {
  const asked = c.req.query("room");
  if (asked === undefined) return c.html(lobbyPage(roomConfig(c.env)));
  const parsed = parseRoomName(asked.trim());
  if (!parsed.ok) return badRoom(c, parsed.error);
  return c.redirect(`/chat/${encodeURIComponent(parsed.value)}/`, 303);
};

pages.get("/", pageHeaders, lobby);
pages.get("/chat/", pageHeaders, lobby);
pages.get("/chat", (c) => c.redirect(`/chat/${new URL(c.req.url).search}`, 308));

/** The raw, still percent-encoded room segment: Hono's decoding is too lenient. */
const rawRoom = (c: Context) => new URL(c.req.url).pathname.split("/")[2] ?? "";

pages.get("/chat/:room/", pageHeaders, (c) => {
  const parsed = parseRoomSegment(rawRoom(c));
  if (!parsed.ok) return badRoom(c, parsed.error);
  return c.html(roomPage(parsed.value, roomConfig(c.env)));
});
// Relative links and the tutorial both expect the trailing slash.
pages.get("/chat/:room", (c) => {
  const url = new URL(c.req.url);
  return c.redirect(`/chat/${rawRoom(c)}/${url.search}`, 308);
});

pages.get("/chat/*", pageHeaders, (c) =>
  c.html(
    problemPage(
      "There is no page here",
      "Room pages look like /chat/<room>/, and room names cannot contain “/”.",
      "Pick a room in the lobby instead.",
    ),
    404,
  ),
);

pages.get("/console/", pageHeaders, (c) => c.html(consolePage(roomConfig(c.env))));
pages.get("/console", (c) => c.redirect("/console/", 308));
