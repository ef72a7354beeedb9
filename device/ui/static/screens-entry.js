// Before the interview: language, check-in, resume by code, consent (and declining it).

import { KEYS, get, post, save } from "./api.js";
import { app, autoClose, confirmDialog, explain } from "./core.js";
import { h, uid } from "./dom.js";
import { keypad } from "./keypad.js";
import { LANGUAGES, pick, setLanguage, t } from "./i18n.js";

const CLOSE_AFTER_MS = 3 * 60 * 1000;

/** The languages the box can analyse, as GET /languages last said (null: not asked yet). */
let offered = null;

/** Ask the box which languages it can analyse; all of them if it cannot say, since check-in
 * refuses a language it cannot analyse anyway, in plain words. */
export async function loadLanguages() {
  try {
    const out = await get("/languages");
    offered = LANGUAGES.filter((lang) => out.languages.includes(lang));
  } catch {
    offered = offered ?? LANGUAGES;
  }
  return offered;
}

/** The first screen: each language the box can analyse, in its own script. It shows the
 * last known list at once and asks again, in case a speech model came or went. */
export function startScreen(notice = "") {
  app.session = null;
  const shown = offered ?? LANGUAGES;
  const screen = app.mount("start", "start", (s) => languageChoice(s, shown, notice));
  loadLanguages().then((found) => {
    if (screen.alive && found.join() !== shown.join()) {
      screen.root.replaceChildren();
      screen.clearError();
      languageChoice(screen, found, notice);
      screen.root.querySelector("h1")?.focus();
    }
  });
}

function languageChoice(s, languages, notice) {
  const none = languages.length === 0;
  const heading = h("h1", { tabindex: "-1", class: "trilingual" },
    (none ? LANGUAGES : languages).map((lang) =>
      h("span", { lang }, t(none ? "noLanguages" : "chooseLanguage", {}, lang))));
  const buttons = languages.map((lang) => h("button", {
    type: "button", class: "language", lang, "data-lang": lang,
    onclick: () => {
      setLanguage(lang);
      save(KEYS.lang, lang);
      checkinScreen();
    },
  }, t("languageName", {}, lang)));
  if (notice) s.errorBox.append(h("p", { class: "notice" }, notice));
  s.root.append(heading, h("div", { class: "languages" }, buttons));
}

/**
 * A code form: a large input, its hint, the submit button and secondary buttons below.
 * submit(code, form) runs as an action.
 */
function codeForm(s, { label, hint, submitText, submit, secondary }) {
  const inputId = uid("code");
  const hintId = uid("hint");
  const formId = uid("form");
  // inputmode none: the on-screen keypad types, no system keyboard covers the screen
  const input = h("input", {
    id: inputId, class: "code-input", type: "text", name: "code", autocomplete: "off",
    autocapitalize: "characters", spellcheck: "false", maxlength: "20", inputmode: "none",
    "aria-describedby": hintId, enterkeyhint: "go",
  });
  const button = h("button", { type: "submit", class: "primary", form: formId }, submitText);
  const form = h("form", { id: formId, class: "code-form", novalidate: true },
    h("label", { for: inputId }, label), input, keypad(input),
    h("p", { id: hintId, class: "hint" }, hint));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (!code) {
      s.showError(t("codeEmpty"), "", { hint: "" });
      input.focus();
      return;
    }
    app.act(button, () => submit(code), handlersFor(s, input, button));
  });
  s.root.append(form);
  s.dock(h("div", { class: "secondary" }, secondary), button);
  return input;
}

function handlersFor(s, input, button) {
  const again = () => {
    input.focus();
    input.select();
  };
  return {
    "invalid-code": (err) => {
      s.showError(t(s.name === "resume" ? "resumeUnknown" : "inviteUnknown"), explain(err),
                  { hint: "" });
      again();
      return true;
    },
    "invalid-request": (err) => {
      s.showError(t(s.name === "resume" ? "resumeUnknown" : "inviteUnknown"), explain(err),
                  { hint: "" });
      again();
      return true;
    },
    "language-unavailable": (err) => {
      s.showError(t("languageUnavailable", { language: t("languageName") }), explain(err),
                  { hint: t(err.body.languages?.length ? "chooseAnother" : "askStaff") });
      return true;
    },
    "code-expired": (err) => {
      s.showError(t("resumeExpired"), explain(err), { hint: "" });
      return true;
    },
    "rate-limited": (err) => {
      const key = err.body.limit === "kiosk" ? "rateLimitedKiosk" : "rateLimited";
      waitOut(s, button, Number(err.body.retry_after_s) || 60, explain(err), key);
      return true;
    },
  };
}

/** Too many wrong codes (for this code, or at this kiosk): say how long to wait, and keep the
 * button off until then. */
function waitOut(s, button, seconds, detail, key) {
  const until = performance.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((until - performance.now()) / 1000);
    if (left <= 0) {
      button.disabled = false;
      s.clearError();
      return;
    }
    button.disabled = true;
    s.showError(t(key, { seconds: left }), detail, { hint: "" });
    s.later(1000, tick);
  };
  tick();
}

async function opened(out) {
  app.endLocal();
  save(KEYS.token, out.token);
  await app.refresh();
}

export function checkinScreen() {
  app.mount("checkin", "checkin", (s) => {
    s.root.append(h("h1", { tabindex: "-1" }, t("checkinTitle")));
    codeForm(s, {
      label: t("inviteLabel"), hint: t("inviteHint"), submitText: t("start"),
      submit: async (code) => {
        const lang = document.documentElement.lang;
        await opened(await post("/checkin", { code, language: lang }));
      },
      secondary: [
        h("button", { type: "button", onclick: resumeScreen }, t("haveResume")),
        h("button", { type: "button", onclick: () => app.start() }, t("changeLanguage")),
      ],
    });
  });
}

export function resumeScreen() {
  app.mount("resume", "resume", (s) => {
    s.root.append(h("h1", { tabindex: "-1" }, t("resumeTitle")));
    codeForm(s, {
      label: t("resumeLabel"), hint: t("resumeHint"), submitText: t("continue"),
      submit: async (code) => opened(await post("/resume", { code })),
      secondary: [
        h("button", { type: "button", onclick: checkinScreen }, t("haveInvite")),
        h("button", { type: "button", onclick: () => app.start() }, t("changeLanguage")),
      ],
    });
  });
}

function section(title, ...body) {
  const id = uid("sec");
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

/** The job package's consent text, what is shared, retention, and the separate option. */
export function consentScreen(session) {
  app.show("consent", session.consent.version, (s) => {
    const consent = session.consent;
    const boxId = uid("expr");
    const expression = h("input", { id: boxId, type: "checkbox", name: "expression" });
    const agree = h("button", { type: "button", class: "primary" }, t("agree"));
    const disagree = h("button", { type: "button" }, t("disagree"));
    const answer = (accept) => post("/session/consent", {
      accept, consent_version: consent.version, expression_analysis: accept && expression.checked,
    });
    agree.addEventListener("click", () => app.act(agree, async () => {
      await answer(true);
      await app.refresh();
    }));
    disagree.addEventListener("click", () => confirmDialog({
      title: t("declineTitle"), body: t("declineBody"), yes: t("declineYes"), no: t("declineNo"),
      onYes: async () => {
        await answer(false);
        await app.refresh();
      },
    }));
    s.root.append(
      h("h1", { tabindex: "-1" }, t("consentTitle")),
      h("p", { class: "lead" }, t("jobLine", { job: pick(session.job.title) })),
      h("div", { class: "consent-text" }, pick(consent.text)),
      section(t("sharedHeading"), h("p", {}, pick(consent.shared_with_central))),
      section(t("keptHeading"), h("p", {}, t("keptDays", { days: consent.retention_days }))),
      section(t("rightsHeading"), h("p", {}, pick(consent.deletion_contact))),
      section(t("optionalHeading"), h("div", { class: "check" }, expression,
        h("label", { for: boxId }, pick(consent.expression_analysis)))),
    );
    s.dock(readOn(s, agree), disagree, agree);
  }, session, { bar: true });
}

/**
 * "I agree" stays off until the end of the text has been on screen (at once, when it all
 * fits). Until then a "scroll to read all" button says there is more, and scrolls on a tap
 * or a key.
 */
function readOn(s, agree) {
  const hintId = uid("more");
  const more = h("button", { type: "button", id: hintId, class: "read-on" }, t("readOn"));
  const end = h("div", { class: "read-end", "aria-hidden": "true" });
  s.root.append(end);
  agree.disabled = true;
  agree.setAttribute("aria-describedby", hintId);
  more.addEventListener("click", () => {
    s.root.scrollBy({ top: Math.max(80, s.root.clientHeight - 60) });
  });
  const observer = new IntersectionObserver((entries) => {
    if (!entries.some((entry) => entry.isIntersecting)) return;
    observer.disconnect();
    const hadFocus = document.activeElement === more;
    agree.disabled = false;
    agree.removeAttribute("aria-describedby");
    more.hidden = true;
    if (hadFocus) agree.focus();
  }, { root: s.root, threshold: 0 });
  observer.observe(end);
  s.onLeave(() => observer.disconnect());
  return more;
}

/** A closing screen (declined, ended): a message and a way back to the start. */
export function closingScreen(name, title, body) {
  app.show(name, name, (s) => {
    const finish = () => {
      app.endLocal();
      app.start();
    };
    s.root.append(h("h1", { tabindex: "-1" }, title), h("p", { class: "lead" }, body),
                  autoClose(s, CLOSE_AFTER_MS, finish));
    s.dock(h("button", { type: "button", class: "primary", onclick: finish }, t("done")));
  });
}
