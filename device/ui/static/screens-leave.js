// Leaving and finishing: the resume code after a break, the screen while a device or staff
// holds the interview, and the receipt at the end.

import { get } from "./api.js";
import { app, autoClose, explain } from "./core.js";
import { groupCode, h, srOnly, svgDataUrl, uid } from "./dom.js";
import { duration, pick, setLanguage, t } from "./i18n.js";

const CODE_CLOSE_MS = 5 * 60 * 1000;
const DONE_CLOSE_MS = 3 * 60 * 1000;
const PAUSED_POLL_MS = 2000;
const RECEIPT_RETRY_MS = 1500;
const RECEIPT_TRIES = 6;

function finish() {
  app.endLocal();
  app.start();
}

/** After "Take a break": the resume code as large text and as a QR code, and the window. */
export function codeScreen(info) {
  if (info.lang) setLanguage(info.lang);
  app.mount("code", info.code, (s) => {
    const code = groupCode(info.code);
    const spelled = code.split("").filter((c) => c !== "-").join(" ");
    const text = h("div", { class: "code-box" },
      h("p", { class: "code-label" }, t("codeIntro")),
      h("p", { class: "resume-code" }, h("span", { "aria-hidden": "true" }, code),
        srOnly(spelled)),
      h("p", {}, t("codeWindow", { hours: info.hours })),
      h("p", { class: "hint" }, t("codeKeep")));
    const qr = info.qr
      ? h("img", { class: "qr", alt: t("qrAlt"), src: svgDataUrl(info.qr) }) : null;
    s.root.append(h("h1", { tabindex: "-1" }, t("pausedTitle")),
                  h("div", { class: "code-grid" }, text, qr),
                  autoClose(s, CODE_CLOSE_MS, finish));
    s.dock(h("button", { type: "button", class: "primary", onclick: finish }, t("done")));
  });
}

/** Paused by a lost device or by staff: progress is safe; wait here until it goes on. */
export function pausedScreen(session) {
  const reason = session.pause_reason || "staff";
  app.show("paused", reason, (s) => {
    const message = { "microphone-lost": "micLost", "camera-lost": "cameraLost",
                      system: "systemPaused" }[reason] || "staffPaused";
    s.root.append(h("h1", { tabindex: "-1" }, t("devicePausedTitle")),
                  h("p", { class: "lead", role: "status" }, t(message)),
                  h("p", { class: "hint" }, t("waitHint")));
    app.pollSession(s, PAUSED_POLL_MS);
  }, session, { bar: false });
}

function section(title, ...body) {
  const id = uid("sec");
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

function recordedLine(item) {
  const kinds = (item.recorded || []).map((kind) => t(kind === "video" ? "recVideo" : "recAudio"));
  const what = kinds.length ? kinds.join(" + ") : t("recNothing");
  return item.duration_s ? `${what} · ${duration(item.duration_s)}` : what;
}

/** The end: thanks, and the receipt of what was recorded, shared, kept and how to delete. */
export function doneScreen(session) {
  app.show("done", session.session_id, (s) => {
    let tries = 0;
    const shown = (receipt) => {
      if (!s.alive) return;
      body.replaceChildren(...receiptParts(receipt));
      // the last take's files are still being closed: ask again shortly
      const saving = (receipt.items || []).some((item) => !(item.recorded || []).length);
      tries += 1;
      if (saving && tries < RECEIPT_TRIES) {
        s.later(RECEIPT_RETRY_MS, () => get("/session/receipt").then(shown).catch(() => {}));
      }
    };
    const body = h("div", { class: "receipt", "aria-busy": "true" });
    s.root.append(h("h1", { tabindex: "-1" }, t("doneTitle")), body,
                  autoClose(s, DONE_CLOSE_MS, finish));
    s.dock(h("button", { type: "button", class: "primary", onclick: finish }, t("done")));
    if (session.receipt) {
      shown(session.receipt);
      body.removeAttribute("aria-busy");
      return;
    }
    get("/session/receipt").then(shown).catch((err) => {
      if (!s.alive) return;
      body.replaceChildren(...fallbackParts(session));
      s.showError(t("receiptMissing"), explain(err), { hint: "" });
    }).finally(() => body.removeAttribute("aria-busy"));
  }, session);
}

function reference(id) {
  return h("p", { class: "reference" }, `${t("reference")}: `, h("strong", {}, id));
}

function receiptParts(receipt) {
  const items = (receipt.items || []).map((item) => h("li", {},
    h("span", { class: "item-title" }, pick(item.title)), " — ", recordedLine(item)));
  return [
    h("h2", {}, t("receiptTitle")),
    reference(receipt.session_id),
    h("p", {}, pick(receipt.job?.title)),
    section(t("recordedHeading"), h("ol", { class: "items" }, items)),
    section(t("sharedHeading"), h("p", {}, pick(receipt.shared_with_central)),
            h("p", {}, t(receipt.expression_analysis ? "expressionYes" : "expressionNo"))),
    section(t("keptHeading"), h("p", {}, t("keptDays", { days: receipt.retention_days }))),
    section(t("rightsHeading"), h("p", {}, pick(receipt.deletion_contact))),
  ];
}

/** Without the receipt endpoint: what the session itself says about sharing and retention. */
function fallbackParts(session) {
  const consent = session.consent;
  if (!consent) return [reference(session.session_id)];
  return [
    h("h2", {}, t("receiptTitle")),
    reference(session.session_id),
    section(t("sharedHeading"), h("p", {}, pick(consent.shared_with_central))),
    section(t("keptHeading"), h("p", {}, t("keptDays", { days: consent.retention_days }))),
    section(t("rightsHeading"), h("p", {}, pick(consent.deletion_contact))),
  ];
}
