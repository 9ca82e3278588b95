/**
 * @module room
 * The room page, /chat/<room>/. Loaded as a classic script in <head>, so it
 * runs before the page is shown: the socket starts connecting at once, and a
 * message typed and sent with Enter before the page is fully parsed is sent
 * too (the tutorial's browser tests type straight after the page loads).
 *
 * The socket is partysocket's ReconnectingWebSocket: it reconnects with
 * backoff and buffers what is sent while it is down. Each attempt asks for
 * a fresh URL, whose `since` is the last message id the page holds, so the
 * room replays exactly what was missed; ids already held are skipped anyway.
 */
import ReconnectingWebSocket from "partysocket/ws";
import {
  CLOSE_BANNED,
  CLOSE_REMOVED,
  type ChatMessage,
  type Member,
  type ServerFrame,
} from "../src/protocol";
import { skeleton } from "../src/lookalike";
import { parseRoomSegment } from "../src/room-name";
import { toHex } from "../src/text";
import { fullTime, hue, initial, shortTime } from "./format";
import { MessageHistory } from "./history";
import { checkName, guestKey, loadName, pageLimit, rememberRoom, saveName } from "./storage";

/** Consecutive messages from one author within this window share one header. */
const GROUP_MS = 5 * 60_000;
/** Keep-alive: proxies drop idle sockets, and a dead link only shows when we send. */
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
/**
 * Acknowledge what the page has taken in, so the room can tell a page that
 * keeps up from one that does not (it closes those with 4008, and they resume
 * with `since`): within a second, or at once after a burst.
 */
const ACK_WITHIN_MS = 1000;
const ACK_AFTER_CHARS = 128 * 1024;
const ACK_AFTER_MESSAGES = 100;

type ConnectionState = "connecting" | "live" | "reconnecting" | "offline" | "refused";

const parsedRoom = parseRoomSegment(location.pathname.split("/")[2] ?? "");
if (!parsedRoom.ok) throw new Error(`room page without a valid room: ${parsedRoom.error}`);
const room = parsedRoom.value;
rememberRoom(room);

const history = new MessageHistory();
/** The name to join with: the chosen one, or the guest name the room gave us first. */
let joinName = loadName();
let me: Member | null = null;
/**
 * The members this page knows of, by member key (never by name: a guest may
 * take anyone's name): the welcome's first 100, then the presence diffs,
 * plus the pages asked for with "show everyone".
 */
const members = new Map<string, Member>();
/** Members in the room, as the room last said (may exceed what the page knows). */
let memberCount = 0;
/** Where the next page of the member list starts, while "show everyone" is fetching. */
let membersCursor: string | null = null;
let fetchingMembers = false;
/**
 * How the names of verified members seen in this room read (their
 * look-alike skeletons): a guest whose name reads the same is flagged.
 */
const verifiedLooks = new Set<string>();

function readsAsVerified(name: string): boolean {
  return verifiedLooks.has(skeleton(name));
}
let state: ConnectionState = "connecting";
let attempts = 0;
/** Whether the current connection attempt ever opened. */
let opened = false;
/** Why the server refused this page's socket (bad name, private room…), if it did. */
let refusal: string | null = null;
/** What the server said about the last failed attempt while we keep retrying (a 5xx). */
let trouble: string | null = null;
/** A join token from the page URL (`?token=`), for private rooms; passed on as is. */
const joinToken = new URLSearchParams(location.search).get("token");
/** Messages typed while the socket was down; sent from `unacked` on open. */
let waiting = 0;
/**
 * Messages sent but not yet echoed back, by clientId. A socket can die
 * without a word after a send; these go again after every reconnect, and the
 * room stores a repeated clientId only once.
 */
const unacked = new Map<string, string>();
let lastSent: string | null = null;
let pingTimer: ReturnType<typeof setInterval> | undefined;
let ackTimer: ReturnType<typeof setTimeout> | undefined;
let charsSinceAck = 0;
let messagesSinceAck = 0;
let pongTimer: ReturnType<typeof setTimeout> | undefined;
/** Frames that arrived before the page finished parsing. */
const early: ServerFrame[] = [];
let ui: Ui | null = null;

/** The socket's URL for the next attempt; `since` is recomputed each time. */
function joinUrl(): URL {
  const url = new URL(`/ws/chat/${encodeURIComponent(room)}/`, location.href);
  url.searchParams.set("rich", "1");
  // Several chat frames per WebSocket message when the room is busy.
  url.searchParams.set("batch", "1");
  if (joinName !== null) url.searchParams.set("name", joinName);
  if (joinToken !== null) url.searchParams.set("token", joinToken);
  else url.searchParams.set("guest", guestKey());
  const since = history.since;
  if (since !== null) url.searchParams.set("since", String(since));
  return url;
}

function socketUrl(): string {
  const url = joinUrl();
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

// Jitter, so a room full of pages does not come back in one burst after a
// deploy: partysocket reads its options at every attempt, so each attempt
// draws a new delay (0.5 to 2 s, then growing by 1.6x per failed attempt).
const socket = new ReconnectingWebSocket(socketUrl, undefined, {
  get minReconnectionDelay() {
    return 500 + Math.random() * 1500;
  },
  maxReconnectionDelay: 15_000,
  reconnectionDelayGrowFactor: 1.6,
  connectionTimeout: 6_000,
  // Removed or banned by a moderator: coming straight back would defeat it.
  shouldReconnectOnClose: (event) => event.code !== CLOSE_REMOVED && event.code !== CLOSE_BANNED,
});

socket.addEventListener("open", () => {
  opened = true;
  trouble = null;
  waiting = 0;
  attempts = 0;
  clearInterval(pingTimer);
  pingTimer = setInterval(ping, PING_EVERY_MS);
  for (const frame of unacked.values()) socket.send(frame);
  update();
});

socket.addEventListener("close", (event) => {
  clearInterval(pingTimer);
  clearTimeout(pongTimer);
  if (event.code === CLOSE_REMOVED || event.code === CLOSE_BANNED) {
    refusal = event.reason || "a moderator removed you from this room";
    state = "refused";
  }
  if (refusal !== null) {
    update();
    return;
  }
  if (state === "live" || state === "connecting") attempts = 0;
  attempts++;
  state = navigator.onLine === false ? "offline" : "reconnecting";
  if (!opened) void diagnose();
  opened = false;
  update();
});

/**
 * A browser never says why a WebSocket upgrade failed. The Worker answers a
 * plain GET of the same URL with the reason (or 426 when nothing is wrong),
 * so ask it once per failed attempt; a refusal stops the retries, since
 * retrying would only be refused again.
 */
async function diagnose(): Promise<void> {
  let res: Response;
  try {
    res = await fetch(joinUrl(), { cache: "no-store", headers: { Accept: "application/json" } });
  } catch {
    return; // The server is unreachable: keep retrying.
  }
  if (res.status < 400 || res.status === 426) return;
  const body = (await res.json().catch(() => null)) as { error?: unknown } | null;
  const reason =
    typeof body?.error === "string" ? body.error : `the server answered HTTP ${res.status}`;
  if (socket.readyState === socket.OPEN) return; // Connected meanwhile.
  if (res.status >= 500 || res.status === 429) {
    // Maybe temporary: keep retrying, and say why it is taking long.
    trouble = reason;
  } else {
    refusal = reason;
    socket.close(1000, "refused");
    state = "refused";
  }
  update();
}

socket.addEventListener("message", (event: MessageEvent) => {
  if (event.data === "pong") {
    clearTimeout(pongTimer);
    return;
  }
  // With batch=1 one message may carry several frames, one per line.
  const lines = (event.data as string).split("\n");
  for (const line of lines) {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(line) as ServerFrame;
    } catch {
      continue;
    }
    if (ui) handleFrame(frame);
    else early.push(frame);
  }
  received((event.data as string).length, lines.length);
});

function received(chars: number, messages: number): void {
  charsSinceAck += chars;
  messagesSinceAck += messages;
  if (charsSinceAck >= ACK_AFTER_CHARS || messagesSinceAck >= ACK_AFTER_MESSAGES) ack();
  else ackTimer ??= setTimeout(ack, ACK_WITHIN_MS);
}

/** Tells the room the newest id this page holds. */
function ack(): void {
  clearTimeout(ackTimer);
  ackTimer = undefined;
  charsSinceAck = 0;
  messagesSinceAck = 0;
  const lastId = history.since;
  if (lastId !== null && socket.readyState === socket.OPEN)
    socket.send(JSON.stringify({ type: "ack", lastId }));
}

function ping(): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send("ping");
  clearTimeout(pongTimer);
  // No answer: the link is dead without having told us. Start over.
  pongTimer = setTimeout(() => socket.reconnect(), PONG_WITHIN_MS);
}

// A laptop waking up or a phone back on the network: don't wait for the backoff.
addEventListener("online", () => {
  if (socket.readyState !== socket.OPEN) socket.reconnect();
});
addEventListener("offline", () => {
  if (socket.readyState !== socket.OPEN) {
    state = "offline";
    update();
  }
});
// Leaving the page is not a connection problem; coming back from the
// back-forward cache is a reason to reconnect at once.
addEventListener("pagehide", () => socket.close(1000, "page closed"));
addEventListener("pageshow", (event) => {
  if (event.persisted) socket.reconnect();
});

/** Keys typed before the message field existed, and whether Enter followed them. */
let typedEarly = "";
let enterEarly = false;

// Type anywhere and it goes to the message field, as in most chat apps. This
// also catches the keys typed in the moment between the URL changing and the
// field existing or taking focus: they are kept and put in the field.
document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey)
    return;
  const target = event.target instanceof Element ? event.target : null;
  if (target?.closest("input, textarea, select, button, a, summary, [contenteditable]")) return;
  const input = document.getElementById("chat-message-input");
  if (input && ui) {
    // Focusing during keydown makes the browser type the key into the field.
    if (event.key.length === 1) input.focus();
    return;
  }
  if (event.key.length === 1) typedEarly += event.key;
  else if (event.key === "Backspace") typedEarly = typedEarly.slice(0, -1);
  else if (event.key === "Enter" && typedEarly !== "") enterEarly = true;
  else return;
  event.preventDefault();
});

// Registered before the form exists, so an early Enter is not lost.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  if (form.id === "chat-form") {
    event.preventDefault();
    sendFrom(form);
  } else if (form.id === "name-form") {
    event.preventDefault();
    changeName(form);
  }
});

function sendFrom(form: HTMLFormElement): void {
  const input = form.querySelector<HTMLInputElement>("#chat-message-input");
  if (!input) return;
  const text = typedEarly + input.value;
  typedEarly = "";
  if (text.trim() === "") return;
  input.value = "";
  lastSent = text;
  const clientId = newClientId();
  const frame = JSON.stringify({ message: text, clientId });
  unacked.set(clientId, frame);
  // While down, only `unacked` keeps it: the open handler sends it once.
  if (socket.readyState === socket.OPEN) socket.send(frame);
  else waiting++;
  showError(null);
  update();
}

/** Random, and available on plain-http pages too (unlike crypto.randomUUID). */
function newClientId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(12)));
}

function changeName(form: HTMLFormElement): void {
  const input = form.querySelector<HTMLInputElement>("#display-name-input");
  const error = form.querySelector<HTMLElement>("#display-name-error");
  if (!input || !error) return;
  const parsed = checkName(input.value);
  if (!parsed.ok) {
    error.textContent = `That name doesn't work: ${parsed.error}.`;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  error.textContent = "";
  input.removeAttribute("aria-invalid");
  saveName(parsed.value);
  if (parsed.value === null) {
    input.value = "";
    if (me && joinName === me.name) return;
  } else if (parsed.value === joinName) {
    return;
  }
  joinName = parsed.value;
  // Rejoin under the new name; `since` keeps the log continuous.
  refusal = null;
  state = "reconnecting";
  socket.reconnect(1000, "name changed");
}

function handleFrame(frame: ServerFrame): void {
  if (!ui) return;
  handle(ui, frame);
  showEmpty();
}

/**
 * One key per person: verified members by the backend's id, guests by the
 * room's; the flag keeps a guest id from ever matching a verified one.
 */
function memberKey(m: { id: string; verified: boolean }): string {
  return `${m.verified ? "verified" : "guest"}:${m.id}`;
}

/** A message's author as a member key; API messages have no member, only a name. */
function authorKey(m: ChatMessage): string {
  return m.memberId === undefined
    ? `api:${m.user}`
    : memberKey({ id: m.memberId, verified: m.verified === true });
}

function isMine(m: ChatMessage): boolean {
  return me !== null && authorKey(m) === memberKey(me);
}

/** Adds members (welcome, presence, a page); one already listed is no change. */
function membersJoined(list: Member[], view: Ui): void {
  let flag = false;
  for (const m of list) {
    members.set(memberKey(m), m);
    if (noteVerified(m)) flag = true;
  }
  if (flag) view.flagNamesakes();
}

/** Asks the room for the next page of its member list (the welcome lists only the first 100). */
function requestMembers(): void {
  fetchingMembers = true;
  socket.send(JSON.stringify({ type: "members", cursor: membersCursor }));
}

/** Notes a verified name; true if it is new (guests using it must be flagged). */
function noteVerified(m: { name: string; verified: boolean }): boolean {
  if (!m.verified || readsAsVerified(m.name)) return false;
  verifiedLooks.add(skeleton(m.name));
  return true;
}

function handle(view: Ui, frame: ServerFrame): void {
  switch (frame.type) {
    case "welcome":
      me = frame.you;
      joinName ??= frame.you.name;
      members.clear();
      membersJoined([...frame.members, frame.you], view);
      memberCount = frame.count;
      membersCursor = frame.more;
      fetchingMembers = false;
      history.welcome(frame.lastId);
      if (!history.caughtUp) view.log.setAttribute("aria-busy", "true");
      state = "live";
      view.renderMembers();
      view.flagNamesakes();
      update();
      break;
    case "presence":
      // As the protocol says: remove who left, then add who joined.
      for (const m of frame.left) members.delete(memberKey(m));
      membersJoined(frame.joined, view);
      memberCount = frame.count;
      view.renderMembers();
      break;
    case "members":
      membersJoined(frame.members, view);
      memberCount = frame.count;
      membersCursor = frame.next;
      // "Show everyone" asked for all of it: one page after another.
      if (fetchingMembers && membersCursor !== null) requestMembers();
      else fetchingMembers = false;
      view.renderMembers();
      break;
    case "chat":
      if (frame.clientId !== undefined) unacked.delete(frame.clientId);
      if (noteVerified({ name: frame.user, verified: frame.verified === true })) {
        view.flagNamesakes();
        view.renderMembers();
      }
      if (history.add(frame)) view.addMessage(frame);
      if (history.caughtUp) view.log.removeAttribute("aria-busy");
      break;
    case "history_gap":
      view.addNotice(
        `Messages before #${frame.oldestId} are no longer kept, so some you missed can't be shown.`,
      );
      break;
    case "history_reset":
      // Old messages would sort among the new ones by id: start a fresh log.
      history.reset(frame.lastId);
      view.clearMessages();
      view.addNotice("This room's history was cleared on the server; new messages follow.");
      break;
    case "error":
      if (frame.clientId !== undefined) unacked.delete(frame.clientId);
      showError(frame.message);
      // The message was refused: give its text back so it can be fixed or resent.
      if (view.input.value === "" && lastSent !== null && frame.code !== "bad_frame") {
        view.input.value = lastSent;
        lastSent = null;
      }
      break;
  }
}

/** "No messages yet" only once the room has said so, not while connecting. */
function showEmpty(): void {
  if (ui) ui.empty.hidden = history.size > 0 || me === null || !history.caughtUp;
}

function showError(message: string | null): void {
  if (ui) ui.error.textContent = message ?? "";
}

function update(): void {
  if (!ui) return;
  ui.renderStatus();
}

class Ui {
  readonly log: HTMLOListElement;
  readonly input: HTMLInputElement;
  readonly error: HTMLElement;
  readonly empty: HTMLElement;
  readonly #status: HTMLElement;
  readonly #statusText: HTMLElement;
  readonly #memberList: HTMLUListElement;
  readonly #memberCount: HTMLElement;
  readonly #myName: HTMLElement;
  readonly #nameInput: HTMLInputElement;
  readonly #nameForm: HTMLFormElement;

  constructor() {
    this.log = byId("chat-log");
    this.input = byId("chat-message-input");
    this.error = byId("chat-error");
    this.empty = byId("chat-empty");
    this.#status = byId("connection-status");
    this.#statusText = byId("connection-status-text");
    this.#memberList = byId("member-list");
    this.#memberCount = byId("member-count");
    this.#myName = byId("my-name");
    this.#nameInput = byId("display-name-input");
    this.#nameForm = byId("name-form");

    this.input.maxLength = pageLimit("chat-max-message-chars", this.input.maxLength);
    this.#nameInput.value = loadName() ?? "";
    this.input.addEventListener("input", () => showError(null));

    // The Channels tutorial's log is a <textarea>, and its browser tests read
    // `#chat-log`.value. Keep that working: the log's text, one message a line.
    Object.defineProperty(this.log, "value", {
      get: () =>
        Array.from(
          this.log.querySelectorAll<HTMLElement>("li.msg"),
          (li) => `${li.dataset.user ?? ""}: ${li.querySelector(".text")?.textContent ?? ""}`,
        ).join("\n"),
    });

    // Phones show the member list folded; wide screens as a side bar.
    const details = byId<HTMLDetailsElement>("members");
    const wide = matchMedia("(min-width: 48rem)");
    details.open = wide.matches;
    wide.addEventListener("change", () => (details.open = wide.matches));
  }

  /** Inserts a message in id order; text goes in as text, never as HTML. */
  addMessage(m: ChatMessage): void {
    const mine = isMine(m);
    const stick = this.#nearBottom() || mine;
    const li = document.createElement("li");
    li.className = "msg";
    li.dataset.id = String(m.id);
    li.dataset.user = m.user;
    li.dataset.author = authorKey(m);
    li.dataset.ts = String(m.ts);
    li.classList.toggle("mine", mine);
    li.classList.toggle("verified", m.verified === true);

    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = initial(m.user);
    // Coloured by who, not by name: a namesake gets another colour.
    avatar.style.setProperty("--hue", String(hue(authorKey(m))));

    const meta = document.createElement("div");
    meta.className = "meta";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = m.user;
    const time = document.createElement("time");
    time.dateTime = new Date(m.ts).toISOString();
    time.title = fullTime(m.ts);
    time.textContent = shortTime(m.ts);
    meta.append(author, " ");
    if (m.verified) meta.append(verifiedBadge(), " ");
    else if (m.memberId !== undefined) meta.append(namesakeTag(readsAsVerified(m.user)), " ");
    meta.append(time);

    const text = document.createElement("p");
    text.className = "text";
    text.textContent = m.message;

    const body = document.createElement("div");
    body.className = "body";
    body.append(meta, text);
    li.append(avatar, body);

    // Normally an append; a late, older id (never expected) still lands in order.
    let before: Element | null = null;
    for (let el = this.log.lastElementChild; el; el = el.previousElementSibling) {
      const id = Number((el as HTMLElement).dataset.id);
      if (!(el as HTMLElement).classList.contains("msg") || id < m.id) break;
      before = el;
    }
    this.log.insertBefore(li, before);
    this.#group(li);
    if (before) this.#group(before as HTMLElement);
    this.empty.hidden = true;
    if (stick) this.log.scrollTop = this.log.scrollHeight;
  }

  clearMessages(): void {
    for (const li of this.log.querySelectorAll("li")) li.remove();
  }

  addNotice(text: string): void {
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    this.log.append(li);
  }

  /**
   * Shows "not verified" beside every guest message whose author's name
   * reads as a verified member's (the same, or a look-alike such as "AIice"
   * or a Cyrillic "Аlice"): on the page they would otherwise pass for them.
   */
  flagNamesakes(): void {
    for (const li of this.log.querySelectorAll<HTMLElement>("li.msg:not(.verified)")) {
      const tag = li.querySelector<HTMLElement>(".namesake");
      if (tag) tag.hidden = !readsAsVerified(li.dataset.user ?? "");
    }
  }

  /** Hides the author line of a message that continues the previous one's thread. */
  #group(li: HTMLElement): void {
    const prev = li.previousElementSibling as HTMLElement | null;
    // By author, not name: a namesake's message never reads as a continuation.
    const cont =
      prev?.classList.contains("msg") === true &&
      prev.dataset.author === li.dataset.author &&
      Number(li.dataset.ts) - Number(prev.dataset.ts) < GROUP_MS;
    li.classList.toggle("cont", cont);
  }

  #nearBottom(): boolean {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
  }

  renderStatus(): void {
    this.#status.dataset.state = state;
    let text: string;
    switch (state) {
      case "connecting":
        text = "Connecting…";
        break;
      case "live":
        text = "Live";
        break;
      case "reconnecting":
        text = attempts > 1 ? `Reconnecting… (attempt ${attempts})` : "Reconnecting…";
        if (trouble !== null) text += `: ${trouble}`;
        break;
      case "offline":
        text = "Offline: waiting for the network…";
        break;
      case "refused":
        text = `Not connected: ${refusal ?? "the server refused"}`;
        break;
    }
    if (waiting > 0)
      text += ` · ${waiting} ${waiting === 1 ? "message" : "messages"} will be sent when connected`;
    this.#statusText.textContent = text;
    this.#myName.textContent = me?.name ?? joinName ?? "…";
    // A join token fixes the name: nothing to edit, and the server would ignore it.
    const fixed = me?.verified === true;
    for (const el of this.#nameForm.querySelectorAll<HTMLElement>("label, .row")) el.hidden = fixed;
  }

  renderMembers(): void {
    // One entry per member id: the same person in two tabs is one person,
    // two people with one name are two.
    const myKey = me ? memberKey(me) : null;
    const entries = [...members.entries()].toSorted(([ka, a], [kb, b]) => {
      if (ka === myKey) return -1;
      if (kb === myKey) return 1;
      return a.name.localeCompare(b.name) || Number(b.verified) - Number(a.verified);
    });
    const items = entries.map(([key, member]) => {
      const li = document.createElement("li");
      li.dataset.member = key;
      li.classList.toggle("verified", member.verified);
      const avatar = document.createElement("span");
      avatar.className = "avatar small";
      avatar.setAttribute("aria-hidden", "true");
      avatar.textContent = initial(member.name);
      avatar.style.setProperty("--hue", String(hue(key)));
      const label = document.createElement("span");
      label.className = "member-name";
      label.textContent = member.name;
      li.append(avatar, label);
      if (member.verified) li.append(verifiedBadge());
      else if (readsAsVerified(member.name)) li.append(namesakeTag(true));
      if (key === myKey) {
        const you = document.createElement("span");
        you.className = "you";
        you.textContent = " (you)";
        li.append(you);
      }
      return li;
    });
    // Big rooms: the welcome lists 100 members; the rest on request.
    const unknown = memberCount - members.size;
    if (unknown > 0) {
      const li = document.createElement("li");
      li.className = "more";
      const button = document.createElement("button");
      button.type = "button";
      button.id = "show-all-members";
      button.disabled = fetchingMembers;
      button.textContent = fetchingMembers
        ? `Loading ${unknown} more…`
        : `Show everyone (${unknown} more)`;
      button.addEventListener("click", () => {
        requestMembers();
        this.renderMembers();
      });
      li.append(button);
      items.push(li);
    }
    this.#memberList.replaceChildren(...items);
    // Members as the room counts them (one per member, however many tabs).
    this.#memberCount.textContent = String(Math.max(memberCount, entries.length));
  }
}

/** The mark of a member the site vouched for with a join token. */
function verifiedBadge(): HTMLElement {
  const badge = document.createElement("span");
  badge.className = "badge verified-badge";
  badge.title = "Verified: this member signed in through the site";
  badge.textContent = "✓ verified";
  return badge;
}

/** The warning beside a guest who uses a verified member's name. */
function namesakeTag(shown: boolean): HTMLElement {
  const tag = document.createElement("span");
  tag.className = "badge namesake";
  tag.title = "A guest whose name reads like a verified member's: not the same person";
  tag.textContent = "not verified";
  tag.hidden = !shown;
  return tag;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`room page is missing #${id}`);
  return el as T;
}

function start(): void {
  ui = new Ui();
  for (const frame of early.splice(0)) handleFrame(frame);
  update();
  if (typedEarly !== "") {
    ui.input.value = typedEarly + ui.input.value;
    typedEarly = "";
    ui.input.focus();
    if (enterEarly) ui.input.form?.requestSubmit();
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
