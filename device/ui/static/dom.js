// Building DOM nodes from data: text is always text, never parsed as markup.

/**
 * h("button", {class: "primary", onclick: fn}, "Text") -> an element.
 * Attributes: "class", "text", "on<event>" (listener), true (boolean attribute); null,
 * undefined and false are left out. Children: nodes or strings; arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

let ids = 0;

/** A unique element id with a readable prefix. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** Text only screen readers read. */
export function srOnly(text) {
  return h("span", { class: "sr-only" }, text);
}

/** The resume or invite code in two groups of four, easy to copy ("ABCD-EFGH"). */
export function groupCode(code) {
  const clean = String(code).replace(/[\s-]/g, "").toUpperCase();
  return clean.length === 8 ? `${clean.slice(0, 4)}-${clean.slice(4)}` : clean;
}

/** An SVG document as a data: URL for an <img> (UTF-8 safe base64). */
export function svgDataUrl(svg) {
  // an SVG file (unlike SVG inside HTML) needs its namespace to be drawn
  const doc = /<svg[^>]*\sxmlns=/.test(svg)
    ? svg : svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  const bytes = new TextEncoder().encode(doc);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}
