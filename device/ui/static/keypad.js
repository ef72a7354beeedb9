// The on-screen keypad for invite and resume codes: the kiosk has no keyboard, and the system
// keyboard is not shown (the code field asks for none). A hardware keyboard still types into
// the field; every key is a button, so a keyboard user can reach the keypad too.

import { h } from "./dom.js";
import { t } from "./i18n.js";

/** The characters codes are made of (device/sessions/codes.py ALPHABET): no 0/O, 1/I/L. */
export const CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/** Letters and digits typed into input at the caret (or at the end), upper case. */
function insert(input, text) {
  const max = Number(input.getAttribute("maxlength")) || 20;
  const value = input.value;
  const start = input.selectionStart ?? value.length;
  const end = input.selectionEnd ?? value.length;
  const next = (value.slice(0, start) + text + value.slice(end)).slice(0, max);
  input.value = next;
  const caret = Math.min(start + text.length, next.length);
  input.setSelectionRange(caret, caret);
}

function backspace(input) {
  const value = input.value;
  const start = input.selectionStart ?? value.length;
  const end = input.selectionEnd ?? value.length;
  if (start !== end) {
    input.value = value.slice(0, start) + value.slice(end);
    input.setSelectionRange(start, start);
  } else if (start > 0) {
    input.value = value.slice(0, start - 1) + value.slice(start);
    input.setSelectionRange(start - 1, start - 1);
  }
}

/** A keypad writing into input. A tap keeps the field's caret where it was. */
export function keypad(input) {
  const press = (fn) => (event) => {
    fn();
    input.dispatchEvent(new Event("input", { bubbles: true }));
    // a touch leaves the focus on the field (the caret stays visible); a keyboard user's
    // focus stays on the key they pressed
    if (event.detail > 0) input.focus();
  };
  const keys = CODE_ALPHABET.split("").map((ch) => h("button", {
    type: "button", class: "key", "data-key": ch, onclick: press(() => insert(input, ch)),
  }, ch));
  keys.push(h("button", {
    type: "button", class: "key key-edit", "data-key": "delete", "aria-label": t("keyDelete"),
    onclick: press(() => backspace(input)),
  }, "⌫"));
  keys.push(h("button", {
    type: "button", class: "key key-edit", "data-key": "clear",
    onclick: press(() => { input.value = ""; }),
  }, t("keyClear")));
  // a press must not take the focus from the field (the caret would vanish)
  for (const key of keys) key.addEventListener("mousedown", (e) => e.preventDefault());
  return h("div", { class: "keypad", role: "group", "aria-label": t("keypadLabel") }, keys);
}
