/**
 * @module lobby
 * The lobby, / and /chat/. The form works without this script (the Worker
 * redirects /chat/?room=x to the room); the script checks the name before
 * leaving, remembers the display name and lists the rooms visited lately.
 */
import { parseRoomName } from "../src/identity/room-name";
import { shortTime } from "./format";
import {
  checkName,
  forgetRecentRooms,
  loadName,
  loadRecentRooms,
  roomPath,
  saveName,
} from "./storage";

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`lobby page is missing #${id}`);
  return el as T;
}

function start(): void {
  const form = byId<HTMLFormElement>("room-form");
  const roomInput = byId<HTMLInputElement>("room-name-input");
  const roomError = byId("room-name-error");
  const nameInput = byId<HTMLInputElement>("display-name-input");
  const nameError = byId("display-name-error");

  nameInput.value = loadName() ?? "";
  // `autofocus` is applied at a later rendering step, which can come after the
  // load event, so keys typed at once were lost ("oom_1" for "room_1"). The
  // tutorial's page focuses the field from its script too.
  if (document.activeElement === document.body || document.activeElement === null)
    roomInput.focus();

  const validateName = (): boolean => {
    const parsed = checkName(nameInput.value);
    setError(nameInput, nameError, parsed.ok ? null : `That name doesn't work: ${parsed.error}.`);
    if (parsed.ok) saveName(parsed.value);
    return parsed.ok;
  };
  nameInput.addEventListener("input", validateName);
  roomInput.addEventListener("input", () => setError(roomInput, roomError, null));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!validateName()) {
      nameInput.focus();
      return;
    }
    const parsed = parseRoomName(roomInput.value.trim());
    if (!parsed.ok) {
      setError(roomInput, roomError, `That room name doesn't work: ${parsed.error}.`);
      roomInput.focus();
      return;
    }
    location.assign(roomPath(parsed.value));
  });

  byId("recent-rooms-clear").addEventListener("click", () => {
    forgetRecentRooms();
    renderRecent();
    roomInput.focus();
  });
  renderRecent();
}

function setError(input: HTMLInputElement, out: HTMLElement, message: string | null): void {
  out.textContent = message ?? "";
  if (message === null) input.removeAttribute("aria-invalid");
  else input.setAttribute("aria-invalid", "true");
}

function renderRecent(): void {
  const section = byId("recent-rooms");
  const list = byId<HTMLUListElement>("recent-room-list");
  const rooms = loadRecentRooms();
  section.hidden = rooms.length === 0;
  list.replaceChildren(
    ...rooms.map(({ room, at }) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = roomPath(room);
      a.className = "room-link";
      a.textContent = room;
      const when = document.createElement("time");
      when.dateTime = new Date(at).toISOString();
      when.textContent = shortTime(at);
      li.append(a, when);
      return li;
    }),
  );
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
