/**
 * @module room
 * The room page, /chat/<room>/: wires the room client (connection and
 * outbox), who is here, the view and the keyboard together. Loaded as a
 * classic script in <head>, so the socket starts connecting at once and a
 * message typed and sent before the page is fully parsed is sent too.
 */
import { parseRoomSegment } from "../src/identity/room-name.ts";
import { RoomClient, type ServerFrame } from "@edge-chat/client";
import { RoomInput } from "./room-input.ts";
import { RoomMembers } from "./room-members.ts";
import { RoomView, type PageState } from "./room-view.ts";
import { guestKey, loadName, rememberRoom } from "./storage.ts";

const parsedRoom = parseRoomSegment(location.pathname.split("/")[2] ?? "");
if (!parsedRoom.ok) throw new Error(`room page without a valid room: ${parsedRoom.error}`);
const room = parsedRoom.value;
rememberRoom(room);

/** A join token from the page URL (`?token=`), for private rooms; passed on as is. */
const token = new URLSearchParams(location.search).get("token");
const client = new RoomClient({
  url: location.href,
  room,
  name: loadName(),
  token,
  guest: token === null ? guestKey() : null,
});
const members = new RoomMembers();
/** The last message sent, given back to the field if the room refuses it. */
let lastSent: string | null = null;
/** Frames that arrived before the page finished parsing. */
const early: ServerFrame[] = [];
let view: RoomView | null = null;

const input = new RoomInput({
  send(text) {
    lastSent = text;
    client.send(text);
    view?.showError(null);
    renderStatus();
  },
  rename(name) {
    // Blank means "let the room pick": keep the name it already gave us.
    if (name === null && client.me !== null && client.name === client.me.name) return;
    if (name !== null && name === client.name) return;
    client.rename(name);
  },
});

client.on("frame", (frame) => {
  if (view) handle(view, frame);
  else early.push(frame);
});
client.on("status", () => renderStatus());

function handle(v: RoomView, frame: ServerFrame): void {
  switch (frame.type) {
    case "welcome":
      if (members.welcome(frame)) v.flagNamesakes();
      v.setBusy(!client.history.caughtUp);
      v.renderMembers();
      v.flagNamesakes();
      break;
    case "presence":
      if (members.presence(frame)) v.flagNamesakes();
      v.renderMembers();
      break;
    case "members": {
      if (members.page(frame)) v.flagNamesakes();
      // "Show everyone" asked for all of it: one page after another.
      const next = members.nextPage();
      if (next !== undefined) client.requestMembers(next);
      v.renderMembers();
      break;
    }
    case "chat":
      if (members.noteAuthor(frame)) {
        v.flagNamesakes();
        v.renderMembers();
      }
      // The client passes on each id once: a replay of one held already never arrives here.
      v.addMessage(frame);
      if (client.history.caughtUp) v.setBusy(false);
      break;
    case "history_gap":
      v.addNotice(
        `Messages before #${frame.oldestId} are no longer kept, so some you missed can't be shown.`,
      );
      break;
    case "history_reset":
      // Old messages would sort among the new ones by id: start a fresh log.
      v.clearMessages();
      v.addNotice("This room's history was cleared on the server; new messages follow.");
      break;
    case "error":
      v.showError(frame.message);
      // The message was refused: give its text back so it can be fixed or resent.
      if (v.input.value === "" && lastSent !== null && frame.code !== "bad_frame") {
        v.input.value = lastSent;
        lastSent = null;
      }
      break;
  }
  v.showEmpty(client.history.size === 0 && members.me !== null && client.history.caughtUp);
  renderStatus();
}

function pageState(): PageState {
  const state = client.state;
  if (state === "closed") return "refused";
  if (state === "reconnecting" && navigator.onLine === false) return "offline";
  return state;
}

function renderStatus(): void {
  const me = client.me;
  view?.renderStatus({
    state: pageState(),
    attempts: client.attempts,
    reason: client.reason,
    waiting: client.queued,
    name: me?.name ?? client.name ?? "…",
    fixedName: me?.verified === true,
  });
}

// A laptop waking up or a phone back on the network: don't wait for the backoff.
addEventListener("online", () => client.reconnectNow());
addEventListener("offline", () => renderStatus());
// Leaving the page is not a connection problem; coming back from the
// back-forward cache is a reason to reconnect at once.
addEventListener("pagehide", () => client.pause());
addEventListener("pageshow", (event) => {
  if (event.persisted) client.reconnectNow();
});

function start(): void {
  view = new RoomView(members, () => client.requestMembers(members.fetchAll()));
  for (const frame of early.splice(0)) handle(view, frame);
  renderStatus();
  input.attach(view.input);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
