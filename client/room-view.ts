/**
 * @module room-view
 * The room page's DOM: the message log, the member panel and the status
 * line. It draws what it is given (messages, the member list, a status) and
 * holds no connection state; text always goes in as text, never as HTML.
 */
import type { ChatMessage } from "@edge-chat/client";
import { fullTime, hue, initial, shortTime } from "./format.ts";
import { authorKey, memberKey, type RoomMembers } from "./room-members.ts";
import { loadName, pageLimit } from "./storage.ts";

/** Consecutive messages from one author within this window share one header. */
const GROUP_MS = 5 * 60_000;

export type PageState = "connecting" | "live" | "reconnecting" | "offline" | "refused";

/** What the status line says. */
export interface StatusView {
  state: PageState;
  attempts: number;
  /** Why the room refused, or what it answered while we keep retrying. */
  reason: string | null;
  /** Messages typed while down, sent when the socket is back. */
  waiting: number;
  /** The name shown as yours, and whether a join token fixed it. */
  name: string;
  fixedName: boolean;
}

export class RoomView {
  readonly log: HTMLOListElement;
  readonly input: HTMLInputElement;
  readonly #error: HTMLElement;
  readonly #empty: HTMLElement;
  readonly #status: HTMLElement;
  readonly #statusText: HTMLElement;
  readonly #memberList: HTMLUListElement;
  readonly #memberCount: HTMLElement;
  readonly #myName: HTMLElement;
  readonly #nameInput: HTMLInputElement;
  readonly #nameForm: HTMLFormElement;

  /**
   * @param members who is here; the view reads it to draw the panel and the marks
   * @param onShowAll the "show everyone" button of a big room
   */
  constructor(
    readonly members: RoomMembers,
    readonly onShowAll: () => void,
  ) {
    this.log = byId("chat-log");
    this.input = byId("chat-message-input");
    this.#error = byId("chat-error");
    this.#empty = byId("chat-empty");
    this.#status = byId("connection-status");
    this.#statusText = byId("connection-status-text");
    this.#memberList = byId("member-list");
    this.#memberCount = byId("member-count");
    this.#myName = byId("my-name");
    this.#nameInput = byId("display-name-input");
    this.#nameForm = byId("name-form");

    this.input.maxLength = pageLimit("chat-max-message-chars", this.input.maxLength);
    this.#nameInput.value = loadName() ?? "";
    this.input.addEventListener("input", () => this.showError(null));

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

  /** Inserts a message in id order. */
  addMessage(m: ChatMessage): void {
    const mine = this.members.isMine(m);
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
    else if (m.memberId !== undefined)
      meta.append(namesakeTag(this.members.readsAsVerified(m.user)), " ");
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
    this.#empty.hidden = true;
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

  /** While history replays, the log is busy for screen readers. */
  setBusy(busy: boolean): void {
    if (busy) this.log.setAttribute("aria-busy", "true");
    else this.log.removeAttribute("aria-busy");
  }

  /** "No messages yet" only once the room has said so, not while connecting. */
  showEmpty(empty: boolean): void {
    this.#empty.hidden = !empty;
  }

  showError(message: string | null): void {
    this.#error.textContent = message ?? "";
  }

  /**
   * Shows "not verified" beside every guest message whose author's name
   * reads as a verified member's (the same, or a look-alike such as "AIice"
   * or a Cyrillic "Аlice"): on the page they would otherwise pass for them.
   */
  flagNamesakes(): void {
    for (const li of this.log.querySelectorAll<HTMLElement>("li.msg:not(.verified)")) {
      const tag = li.querySelector<HTMLElement>(".namesake");
      if (tag) tag.hidden = !this.members.readsAsVerified(li.dataset.user ?? "");
    }
  }

  renderStatus(s: StatusView): void {
    this.#status.dataset.state = s.state;
    let text: string;
    switch (s.state) {
      case "connecting":
        text = "Connecting…";
        break;
      case "live":
        text = "Live";
        break;
      case "reconnecting":
        text = s.attempts > 1 ? `Reconnecting… (attempt ${s.attempts})` : "Reconnecting…";
        if (s.reason !== null) text += `: ${s.reason}`;
        break;
      case "offline":
        text = "Offline: waiting for the network…";
        break;
      case "refused":
        text = `Not connected: ${s.reason ?? "the server refused"}`;
        break;
    }
    if (s.waiting > 0)
      text += ` · ${s.waiting} ${s.waiting === 1 ? "message" : "messages"} will be sent when connected`;
    this.#statusText.textContent = text;
    this.#myName.textContent = s.name;
    // A join token fixes the name: nothing to edit, and the server would ignore it.
    for (const el of this.#nameForm.querySelectorAll<HTMLElement>("label, .row"))
      el.hidden = s.fixedName;
  }

  renderMembers(): void {
    // One entry per member id: the same person in two tabs is one person,
    // two people with one name are two.
    const me = this.members.me;
    const myKey = me ? memberKey(me) : null;
    const entries = this.members.list();
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
      else if (this.members.readsAsVerified(member.name)) li.append(namesakeTag(true));
      if (key === myKey) {
        const you = document.createElement("span");
        you.className = "you";
        you.textContent = " (you)";
        li.append(you);
      }
      return li;
    });
    // Big rooms: the welcome lists 100 members; the rest on request.
    const unknown = this.members.unknown;
    if (unknown > 0) {
      const li = document.createElement("li");
      li.className = "more";
      const button = document.createElement("button");
      button.type = "button";
      button.id = "show-all-members";
      button.disabled = this.members.fetching;
      button.textContent = this.members.fetching
        ? `Loading ${unknown} more…`
        : `Show everyone (${unknown} more)`;
      button.addEventListener("click", () => {
        this.onShowAll();
        this.renderMembers();
      });
      li.append(button);
      items.push(li);
    }
    this.#memberList.replaceChildren(...items);
    // Members as the room counts them (one per member, however many tabs).
    this.#memberCount.textContent = String(Math.max(this.members.count, entries.length));
  }

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
