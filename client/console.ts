/**
 * @module console
 * The moderator's console, /console/: sign in with the moderator credential
 * (BROADCAST_TOKEN), pick a room, watch its members and messages, and post,
 * kick or ban. Everything goes through the bearer API, polled once a second
 * (messages) and every two seconds (members): the console is not a member of
 * the room, so it is in nobody's presence list, and the credential stays in
 * an Authorization header (a browser's WebSocket cannot send one). It lives
 * in sessionStorage: this tab only, gone when the tab closes or on sign out.
 * Names and messages are inserted with textContent only.
 */
import type { ChatMessage } from "@edge-chat/client";
import { parseRoomName } from "../src/identity/room-name.ts";
import { ConsoleApi, MESSAGE_PAGE, type Answer, type ListedMember } from "./console-api.ts";
import { ActivitySeries, draw } from "./console-chart.ts";

const TOKEN_KEY = "console.token";
const MESSAGES_EVERY_MS = 1000;
const MEMBERS_EVERY_MS = 2000;
/** Messages kept on screen; older ones scroll away. */
const MAX_SHOWN = 500;
/** Message pages walked per poll (100 each); the rest comes with the next poll. */
const MAX_MESSAGE_PAGES = 10;
/** Member pages walked per refresh (1,000 each). */
const MAX_MEMBER_PAGES = 10;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** What one open room needs; replaced when the room changes, dropped on sign out. */
interface Watch {
  api: ConsoleApi;
  series: ActivitySeries;
  since: number | null;
  /** A message poll is under way: the next tick skips rather than overlapping it. */
  polling: boolean;
  stopped: boolean;
  timers: ReturnType<typeof setInterval>[];
}

let watch: Watch | null = null;

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage off: the credential lives in memory for this page only.
  }
}

function roomFromHash(): string | null {
  if (location.hash.length < 2) return null;
  try {
    const parsed = parseRoomName(decodeURIComponent(location.hash.slice(1)));
    return parsed.ok ? parsed.value : null;
  } catch {
    return null;
  }
}

function status(text: string): void {
  $("console-status").textContent = text;
}

/** Shows what the API answered to an action, as a moderator would read it in curl. */
function showAnswer(what: string, answer: Answer): void {
  const body = answer.body === null ? answer.text : JSON.stringify(answer.body);
  const out = $("console-answer");
  out.textContent = `${what}\n→ HTTP ${answer.status} ${body}`;
  out.dataset.status = String(answer.status);
}

function showLogin(error: string | null): void {
  $("console-room-view").hidden = true;
  $("console-login").hidden = false;
  $("console-login-error").textContent = error ?? "";
  const room = roomFromHash();
  if (room !== null) $<HTMLInputElement>("console-room").value = room;
  const signedIn = storedToken() !== null;
  // Switching rooms: the tab still holds the credential, so it may stay blank.
  $<HTMLInputElement>("console-token").placeholder = signedIn ? "kept for this tab" : "";
  $<HTMLInputElement>(signedIn ? "console-room" : "console-token").focus();
}

function stopWatching(): void {
  if (!watch) return;
  watch.stopped = true;
  for (const t of watch.timers) clearInterval(t);
  watch = null;
}

/** Signs out: forgets the credential and shows the form, with `error` when it was refused. */
function signOut(error: string | null): void {
  stopWatching();
  storeToken(null);
  $<HTMLInputElement>("console-token").value = "";
  status("");
  showLogin(error);
}

/** Checks the credential against the room and starts watching it; false when refused. */
async function open(token: string, room: string): Promise<boolean> {
  stopWatching();
  const api = new ConsoleApi(token, room);
  let first: Awaited<ReturnType<ConsoleApi["members"]>>;
  try {
    first = await api.members(null);
  } catch (err) {
    showLogin(`Can't reach the server: ${(err as Error).message}`);
    return false;
  }
  if (first.status === 401) {
    signOut(`That credential was refused (HTTP 401). Use the service's BROADCAST_TOKEN.`);
    return false;
  }
  if (first.status !== 200) {
    const reason = (first.body as { error?: string } | null)?.error ?? first.text;
    showLogin(`The server answered HTTP ${first.status}: ${reason}`);
    return false;
  }
  storeToken(token);
  history.replaceState(null, "", `#${encodeURIComponent(room)}`);
  $("console-login").hidden = true;
  $("console-room-view").hidden = false;
  $("console-room-name").textContent = room;
  $("console-log").replaceChildren();
  $("console-members").replaceChildren();
  document.title = `${room} · Moderator console`;
  const w: Watch = {
    api,
    series: new ActivitySeries(),
    since: null,
    polling: false,
    stopped: false,
    timers: [],
  };
  watch = w;
  renderMembers(w, first.body!.members, first.body!.count, first.body!.next !== null);
  w.series.members(Date.now(), first.body!.count);
  await pollMessages(w);
  w.timers.push(setInterval(() => void pollMessages(w), MESSAGES_EVERY_MS));
  w.timers.push(setInterval(() => void pollMembers(w), MEMBERS_EVERY_MS));
  return true;
}

/** A failed poll: a refused credential signs out, anything else is shown and retried. */
function pollFailed(w: Watch, answer: Answer | Error): void {
  if (w.stopped) return;
  if (!(answer instanceof Error) && answer.status === 401) {
    signOut("The credential was refused (HTTP 401): it may have been changed.");
    return;
  }
  status(
    answer instanceof Error
      ? `Can't reach the server (${answer.message}); retrying.`
      : `The server answered HTTP ${answer.status}; retrying.`,
  );
}

async function pollMessages(w: Watch): Promise<void> {
  if (w.polling) return; // the last poll is still walking pages
  w.polling = true;
  try {
    // A busy second may hold more than a page: walk on while pages are full.
    for (let page = 0; page < MAX_MESSAGE_PAGES; page++) {
      let answer;
      try {
        answer = await w.api.messages(w.since);
      } catch (err) {
        return pollFailed(w, err as Error);
      }
      if (w.stopped) return;
      if (answer.status !== 200 || answer.body === null) return pollFailed(w, answer);
      const fresh = answer.body.messages.filter((m) => w.since === null || m.id > w.since);
      for (const m of fresh) {
        w.series.message(m.ts);
        addMessage(m);
      }
      // A room whose storage was reset starts its ids again: follow it.
      w.since = fresh.at(-1)?.id ?? Math.min(w.since ?? answer.body.lastId, answer.body.lastId);
      if (answer.body.messages.length < MESSAGE_PAGE) break;
    }
  } finally {
    w.polling = false;
  }
  const now = Date.now();
  w.series.trim(now);
  $("console-rate").textContent = w.series.rate(now).toFixed(1);
  redraw(w, now);
  status(`Watching · updated ${new Date(now).toLocaleTimeString()}`);
}

/** The chart's window, from the select above it. */
function chartWindowMs(): number {
  return Number($<HTMLSelectElement>("console-window").value) * 60_000;
}

function redraw(w: Watch, now = Date.now()): void {
  draw($("console-chart") as unknown as SVGSVGElement, w.series, now, chartWindowMs());
}

async function pollMembers(w: Watch): Promise<void> {
  const all: ListedMember[] = [];
  let cursor: string | null = null;
  let count = 0;
  let more = false;
  for (let page = 0; page < MAX_MEMBER_PAGES; page++) {
    let answer;
    try {
      answer = await w.api.members(cursor);
    } catch (err) {
      return pollFailed(w, err as Error);
    }
    if (w.stopped) return;
    if (answer.status !== 200 || answer.body === null) return pollFailed(w, answer);
    all.push(...answer.body.members);
    count = answer.body.count;
    cursor = answer.body.next;
    more = cursor !== null;
    if (!more) break;
  }
  w.series.members(Date.now(), count);
  renderMembers(w, all, count, more);
}

function addMessage(m: ChatMessage): void {
  const log = $("console-log");
  const li = document.createElement("li");
  li.className = "console-msg";
  li.dataset.id = String(m.id);
  const time = document.createElement("time");
  time.dateTime = new Date(m.ts).toISOString();
  time.textContent = new Date(m.ts).toLocaleTimeString();
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = m.user;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = m.message;
  li.append(time, " ", author);
  if (m.verified) li.append(" ", badge("verified", "verified-badge"));
  else if (m.memberId === undefined) li.append(" ", badge("API", "api-badge"));
  li.append(" ", text);
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(li);
  while (log.childElementCount > MAX_SHOWN) log.firstElementChild?.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function badge(text: string, className: string): HTMLElement {
  const span = document.createElement("span");
  span.className = `badge ${className}`;
  span.textContent = text;
  return span;
}

function renderMembers(w: Watch, list: ListedMember[], count: number, more: boolean): void {
  $("console-member-count").textContent = String(count);
  const ul = $("console-members");
  const items = list.map((m) => {
    const li = document.createElement("li");
    li.dataset.memberId = m.id;
    li.dataset.verified = String(m.verified);
    const who = document.createElement("div");
    who.className = "who";
    const name = document.createElement("span");
    name.className = "member-name";
    name.textContent = m.name;
    const sockets = document.createElement("span");
    sockets.className = "hint sockets";
    sockets.textContent = m.connections === 1 ? "1 socket" : `${m.connections} sockets`;
    const id = document.createElement("span");
    id.className = "hint member-id";
    id.textContent = m.id;
    who.append(
      name,
      " ",
      m.verified ? badge("verified", "verified-badge") : badge("guest", "guest-badge"),
      " ",
      sockets,
      " ",
      id,
    );
    const kick = document.createElement("button");
    kick.type = "button";
    kick.className = "secondary kick";
    kick.textContent = "Kick";
    kick.setAttribute("aria-label", `Kick ${m.name}`);
    kick.addEventListener("click", () => void confirmRemove(w, m, false));
    const ban = document.createElement("button");
    ban.type = "button";
    ban.className = "danger ban";
    ban.textContent = "Ban…";
    ban.setAttribute("aria-label", `Ban ${m.name}…`);
    ban.addEventListener("click", () => void confirmRemove(w, m, true));
    const actions = document.createElement("div");
    actions.className = "row";
    actions.append(kick, ban);
    li.append(who, actions);
    return li;
  });
  ul.replaceChildren(...items);
  const note = $("console-members-more");
  note.hidden = !more;
  note.textContent = more ? `Showing the first ${list.length} of ${count}.` : "";
}

/** Asks before removing anyone, then removes and shows the API's answer. */
async function confirmRemove(w: Watch, m: ListedMember, ban: boolean): Promise<void> {
  const dialog = $<HTMLDialogElement>("console-confirm");
  const kind = m.verified ? "verified" : "guest";
  const sockets = m.connections === 1 ? "1 socket" : `${m.connections} sockets`;
  $("console-confirm-text").textContent = ban
    ? `Ban ${m.name} (${kind}, ${sockets}) from ${w.api.room}? Their sockets close with 4003 and they cannot rejoin until the ban ends.`
    : `Kick ${m.name} (${kind}, ${sockets}) from ${w.api.room}? Their sockets close with 4001; they may rejoin.`;
  $("console-ban-field").hidden = !ban;
  $("console-confirm-yes").textContent = ban ? "Ban" : "Kick";
  dialog.returnValue = "";
  dialog.showModal();
  const answer = await new Promise<string>((done) =>
    dialog.addEventListener("close", () => done(dialog.returnValue), { once: true }),
  );
  if (answer !== "yes" || w.stopped) return;
  const seconds = ban ? Number($<HTMLSelectElement>("console-ban-seconds").value) : null;
  const what = `${ban ? `Ban ${m.name} for ${seconds} s` : `Kick ${m.name}`}: DELETE /api/rooms/${encodeURIComponent(w.api.room)}/members/${encodeURIComponent(m.id)}${ban ? `?ban=${seconds}` : ""}`;
  try {
    showAnswer(what, await w.api.remove(m, seconds));
  } catch (err) {
    $("console-answer").textContent = `${what}\n→ failed: ${(err as Error).message}`;
  }
  void pollMembers(w);
}

function start(): void {
  $("console-login").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $<HTMLInputElement>("console-token").value.trim() || storedToken();
    const parsed = parseRoomName($<HTMLInputElement>("console-room").value.trim());
    if (!token) {
      $("console-login-error").textContent = "Enter the moderator credential.";
      return;
    }
    if (!parsed.ok) {
      $("console-login-error").textContent = `That room name doesn't work: the ${parsed.error}.`;
      return;
    }
    $("console-login-error").textContent = "";
    void open(token, parsed.value);
  });
  $("console-switch").addEventListener("click", () => {
    stopWatching();
    status("");
    showLogin(null);
  });
  $("console-signout").addEventListener("click", () => signOut(null));
  $("console-window").addEventListener("change", () => watch && redraw(watch));
  $("console-post").addEventListener("submit", (event) => {
    event.preventDefault();
    const w = watch;
    const input = $<HTMLInputElement>("console-post-message");
    const message = input.value;
    if (!w || message.trim() === "") return;
    const user = $<HTMLInputElement>("console-post-user").value.trim();
    const what = `Post as ${user || "api"}: POST /api/rooms/${encodeURIComponent(w.api.room)}/messages`;
    w.api.post(message, user).then(
      (answer) => {
        showAnswer(what, answer);
        if (answer.status === 201) input.value = "";
      },
      (err: Error) => ($("console-answer").textContent = `${what}\n→ failed: ${err.message}`),
    );
  });

  const token = storedToken();
  const room = roomFromHash();
  // A reload of a signed-in tab goes straight back to its room.
  if (token !== null && room !== null) void open(token, room);
  else showLogin(null);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
