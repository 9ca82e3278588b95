/**
 * @module room-input
 * The keyboard and the two forms of the room page. Typing anywhere goes to
 * the message field, as in most chat apps; keys typed before the field
 * exists (the tutorial's browser tests type straight after the page loads)
 * are kept and put in it, and an early Enter still sends.
 */
import { checkName, saveName } from "./storage.ts";

export interface InputHandlers {
  /** A message to send (not blank). */
  send(text: string): void;
  /** A valid new display name (null: let the room pick one), already remembered. */
  rename(name: string | null): void;
}

export class RoomInput {
  /** Keys typed before the message field existed, and whether Enter followed them. */
  #typedEarly = "";
  #enterEarly = false;
  #field: HTMLInputElement | null = null;

  /** Listens at once, before the forms exist, so nothing typed early is lost. */
  constructor(readonly handlers: InputHandlers) {
    document.addEventListener("keydown", (event) => this.#keydown(event));
    document.addEventListener("submit", (event) => this.#submit(event));
  }

  /** The message field exists now: hands it what was typed early, and sends if Enter was pressed. */
  attach(field: HTMLInputElement): void {
    this.#field = field;
    if (this.#typedEarly === "") return;
    field.value = this.#typedEarly + field.value;
    this.#typedEarly = "";
    field.focus();
    if (this.#enterEarly) field.form?.requestSubmit();
  }

  #keydown(event: KeyboardEvent): void {
    if (
      event.defaultPrevented ||
      event.isComposing ||
      event.ctrlKey ||
      event.metaKey ||
      event.altKey
    )
      return;
    const target = event.target instanceof Element ? event.target : null;
    if (target?.closest("input, textarea, select, button, a, summary, [contenteditable]")) return;
    if (this.#field) {
      // Focusing during keydown makes the browser type the key into the field.
      if (event.key.length === 1) this.#field.focus();
      return;
    }
    if (event.key.length === 1) this.#typedEarly += event.key;
    else if (event.key === "Backspace") this.#typedEarly = this.#typedEarly.slice(0, -1);
    else if (event.key === "Enter" && this.#typedEarly !== "") this.#enterEarly = true;
    else return;
    event.preventDefault();
  }

  #submit(event: SubmitEvent): void {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.id === "chat-form") {
      event.preventDefault();
      this.#sendFrom(form);
    } else if (form.id === "name-form") {
      event.preventDefault();
      this.#renameFrom(form);
    }
  }

  #sendFrom(form: HTMLFormElement): void {
    const input = form.querySelector<HTMLInputElement>("#chat-message-input");
    if (!input) return;
    const text = this.#typedEarly + input.value;
    this.#typedEarly = "";
    if (text.trim() === "") return;
    input.value = "";
    this.handlers.send(text);
  }

  #renameFrom(form: HTMLFormElement): void {
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
    if (parsed.value === null) input.value = "";
    this.handlers.rename(parsed.value);
  }
}
