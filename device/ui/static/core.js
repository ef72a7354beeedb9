// The screen machinery: one screen at a time, its timers and polls, busy buttons, errors,
// the header bar, confirmation dialogs and screen-reader announcements.

import { ApiError, KEYS, forget, get, post, save } from "./api.js";
import { h, uid } from "./dom.js";
import { clock, pick, t } from "./i18n.js";

const PAUSABLE = ["checked_in", "consented", "in_progress"];
/** Errors after which the screen is re-read from the server rather than explained. */
const NAVIGATING = ["unauthenticated", "illegal-transition", "rule-violation"];

/** One screen on display. Its timers stop and its clean-ups run when another replaces it. */
export class Screen {
  constructor(name, key) {
    this.name = name;
    this.key = key;
    this.alive = true;
    this.frame = document.getElementById("screen");
    this.cleanups = new Set();
    /** The scrolling part of the screen: everything but the action bar. */
    this.root = h("div", { class: "screen-body", tabindex: "0" });  // arrow keys scroll it
    this.actions = h("div", { class: "dock-actions" });
    this.errorBox = h("div", { class: "error", role: "alert" });
    /** The action bar, always in view: messages, then the screen's buttons. */
    this.dockEl = h("div", { class: "dock" }, this.errorBox, this.actions);
    this.update = null;
  }

  /** Put the screen's actions in the action bar (primary last, at the right). */
  dock(...buttons) {
    this.actions.replaceChildren(...buttons.flat().filter(Boolean));
  }

  /** Run fn after ms, unless the screen has gone. */
  later(ms, fn) {
    const id = setTimeout(() => {
      this.cleanups.delete(stop);
      if (this.alive) fn();
    }, ms);
    const stop = () => clearTimeout(id);
    this.cleanups.add(stop);
  }

  /** Run fn now and then every ms after it settles, while the screen is shown. */
  every(ms, fn) {
    const loop = async () => {
      try {
        await fn();
      } finally {
        if (this.alive) this.later(ms, loop);
      }
    };
    this.later(0, loop);
  }

  onLeave(fn) {
    this.cleanups.add(fn);
  }

  leave() {
    this.alive = false;
    for (const fn of this.cleanups) fn();
    this.cleanups.clear();
  }

  clearError() {
    this.errorBox.replaceChildren();
  }

  /** Show a plain message, the server's own words, and what to do next. */
  showError(message, detail, { retry = null, hint = t("askStaff") } = {}) {
    const parts = [h("p", { class: "error-message" }, message)];
    if (detail) parts.push(h("p", { class: "error-detail" }, t("details", { detail })));
    if (hint) parts.push(h("p", { class: "error-hint" }, hint));
    if (retry) parts.push(h("button", { type: "button", onclick: retry }, t("tryAgain")));
    this.errorBox.replaceChildren(...parts);
  }
}

/**
 * A problem from the box, in the candidate's language: the API's stable problem code picks
 * the words; the box's own (English) detail is never shown to a candidate.
 */
export function explain(err) {
  const code = err?.code || "";
  if (!code || code === "network") return "";
  const key = `problem_${code.replace(/-/g, "_")}`;
  const text = t(key);
  return text === key ? t("problemOther", { code }) : text;
}

export const app = {
  /** The last GET /session answer (null before check-in). */
  session: null,
  /** @type {Screen | null} */
  screen: null,
  /** True while a candidate's action is in flight: nothing else is sent meanwhile. */
  busy: false,
  /** Changes whenever an action starts or ends, so an older poll answer is dropped. */
  epoch: 0,
  /** Set by app.js: shows the screen for a session answer. */
  route: null,
  /** Set by app.js: the language screen, with an optional notice. */
  start: null,

  /** Replace the screen; build(screen) fills it. The first heading gets the focus. */
  mount(name, key, build, { bar = false } = {}) {
    this.screen?.leave();
    closeDialogs();
    const screen = new Screen(name, key);
    this.screen = screen;
    screen.frame.replaceChildren(screen.root, screen.dockEl);
    screen.frame.dataset.screen = name;
    renderBar(bar ? this.session : null);
    build(screen);
    screen.root.scrollTop = 0;
    screen.root.querySelector("h1")?.focus();
    return screen;
  },

  /** Show a screen, or update it in place when the same one (name and key) is up. */
  show(name, key, build, data, options) {
    const current = this.screen;
    if (current && current.alive && current.name === name && current.key === key) {
      renderBar(options?.bar ? this.session : null);
      current.update?.(data);
      return current;
    }
    const screen = this.mount(name, key, build, options);
    screen.update?.(data);
    return screen;
  },

  announce(text) {
    const region = document.getElementById("announcer");
    region.textContent = "";
    setTimeout(() => {
      region.textContent = text;
    }, 60);
  },

  setConnected(ok) {
    let banner = document.getElementById("conn");
    if (!banner) {
      banner = h("p", { id: "conn", class: "conn", role: "status" });
      document.getElementById("main").prepend(banner);
    }
    banner.textContent = ok ? "" : t("reconnecting");
    banner.hidden = ok;
  },

  /** Ask the server where the session stands and show that. */
  async refresh() {
    try {
      const session = await get("/session");
      this.setConnected(true);
      this.route(session);
    } catch (err) {
      if (err.code === "unauthenticated") await this.ended();
      else troubleScreen(err);
    }
  },

  /** The token no longer opens the session: it ended (its receipt still shows for a while),
   * or it is gone for good. */
  async ended() {
    try {
      const receipt = await get("/session/receipt");
      this.route({ state: receipt.state, session_id: receipt.session_id, receipt });
    } catch {
      this.endLocal();
      this.start(t("sessionGone"));
    }
  },

  /** An action's ItemView answer: show it, or ask for the whole session when it moved on. */
  applyView(view) {
    if (!this.session || view.state !== "in_progress") return this.refresh();
    this.session = { ...this.session, state: view.state, current: view };
    return this.route(this.session);
  },

  /** Poll GET /session every ms while the screen is up; answers older than an action drop. */
  pollSession(screen, ms) {
    screen.every(ms, async () => {
      if (this.busy) return;
      const epoch = this.epoch;
      try {
        const session = await get("/session");
        if (epoch !== this.epoch || !screen.alive || this.busy) return;
        this.setConnected(true);
        this.route(session);
      } catch (err) {
        if (err.code === "network" || err.status >= 500) this.setConnected(false);
        else if (err.code === "unauthenticated" && screen.alive) await this.ended();
      }
    });
  },

  /**
   * Run one candidate action: the button is disabled while its request is in flight (a double
   * tap sends one request), errors are shown on the screen. handlers[code](err) may take over
   * an error by returning true.
   */
  async act(button, fn, handlers = {}) {
    if (this.busy || button?.disabled) return;
    this.busy = true;
    this.epoch += 1;
    const screen = this.screen;
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    screen?.clearError();
    let failure = null;
    try {
      await fn();
    } catch (err) {
      failure = err;
    }
    this.busy = false;
    this.epoch += 1;
    if (button?.isConnected) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      if (document.activeElement === document.body || !document.activeElement) button.focus();
    }
    if (failure) this.fail(failure, screen, button, handlers);
  },

  fail(err, screen, button, handlers) {
    if (!(err instanceof ApiError)) {
      screen?.showError(t("genericError"), "");
      return;
    }
    if (handlers[err.code]?.(err)) return;
    if (err.code === "unauthenticated") {
      this.ended();
    } else if (err.code === "illegal-transition" || err.code === "rule-violation") {
      this.refresh().then(() => this.screen?.showError(t("movedOn"), explain(err), { hint: "" }));
    } else if (err.code === "network") {
      screen?.showError(t("networkError"), "", { hint: "" });
    } else if (err.code === "capture-unavailable") {
      screen?.showError(t("captureDown"), explain(err), { hint: "" });
    } else if (err.code === "storage-full") {
      screen?.showError(t("storageFull"), explain(err), { hint: "" });
    } else {
      screen?.showError(t("genericError"), explain(err));
    }
  },

  /** Forget this tab's hold on the session (after leaving, finishing, or a dead token). */
  endLocal() {
    forget(KEYS.token, KEYS.framed, KEYS.leave);
    this.session = null;
  },
};

/** The screen shown when the box cannot be asked at all; it keeps trying by itself. */
function troubleScreen(err) {
  app.mount("trouble", "trouble", (s) => {
    const message = err.code === "network" ? t("networkError") : t("genericError");
    s.root.append(h("h1", { tabindex: "-1" }, message));
    s.showError(message, err.code === "network" ? "" : explain(err),
                { retry: () => app.refresh() });
    if (err.code === "network" || err.status >= 500) s.later(3000, () => app.refresh());
  });
}

/** The header: job title, practice badge, extra time, and the way out. */
function renderBar(session) {
  const bar = document.getElementById("bar");
  if (!session) {
    bar.hidden = true;
    delete bar.dataset.shows;
    bar.replaceChildren();
    return;
  }
  // Rebuilt only when what it shows changes: a poll must not replace the focused Leave button.
  const shows = JSON.stringify([pick(session.job?.title), session.drill, session.extra_time_pct,
                                PAUSABLE.includes(session.state), document.documentElement.lang]);
  if (!bar.hidden && bar.dataset.shows === shows) return;
  bar.dataset.shows = shows;
  const title = h("p", { class: "bar-job" }, pick(session.job?.title));
  if (session.drill) title.append(" ", h("span", { class: "badge" }, t("practice")));
  const extra = session.extra_time_pct > 0
    ? h("p", { class: "bar-extra" }, t("extraTime", { pct: session.extra_time_pct })) : null;
  const leave = PAUSABLE.includes(session.state)
    ? h("button", { type: "button", class: "leave", onclick: askLeave }, t("leave")) : null;
  bar.replaceChildren(...[title, extra, leave].filter(Boolean));
  bar.hidden = false;
}

/**
 * A modal confirmation (native <dialog>: focus stays inside, Escape cancels). onYes runs as
 * an action; the dialog closes when it succeeds.
 */
export function confirmDialog({ title, body, yes, no, onYes }) {
  closeDialogs();
  const titleId = uid("dlg");
  const errorBox = h("div", { class: "error", role: "alert" });
  const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId });
  const yesButton = h("button", { type: "button", class: "primary" }, yes);
  const noButton = h("button", { type: "button", onclick: () => dialog.close() }, no);
  yesButton.addEventListener("click", () => app.act(yesButton, async () => {
    try {
      await onYes();
    } catch (err) {
      // the session moved on or ended: let the screen follow; anything else is said here
      if (err instanceof ApiError && NAVIGATING.includes(err.code)) throw err;
      const message = err?.code === "network" ? t("networkError") : t("genericError");
      errorBox.replaceChildren(h("p", { class: "error-message" }, message));
      if (explain(err)) {
        errorBox.append(h("p", { class: "error-detail" }, t("details", { detail: explain(err) })));
      }
      return;
    }
    if (dialog.open) dialog.close();
  }));
  dialog.append(h("h2", { id: titleId, tabindex: "-1", autofocus: true }, title),
                h("p", {}, body), errorBox, h("div", { class: "actions" }, yesButton, noButton));
  dialog.addEventListener("close", () => dialog.remove());
  document.getElementById("main").append(dialog);
  dialog.showModal();
  return dialog;
}

function closeDialogs() {
  for (const dialog of document.querySelectorAll("dialog")) {
    if (dialog.open) dialog.close();
    dialog.remove();
  }
}

function askLeave() {
  confirmDialog({
    title: t("leaveTitle"), body: t("leaveBody"), yes: t("leaveYes"),
    no: t("leaveNo"),
    onYes: async () => {
      const out = await post("/session/exit");
      const info = { code: out.resume_code, hours: out.resume_window_h,
                     qr: out.resume_qr_svg || null, lang: document.documentElement.lang };
      app.endLocal();
      save(KEYS.leave, info);
      app.route({ state: "left", left: info });
    },
  });
}

/** A visible "closes by itself in m:ss" line; after ms the screen calls done(). */
export function autoClose(screen, ms, done) {
  const line = h("p", { class: "auto-close" });
  const until = performance.now() + ms;
  const tick = () => {
    const left = (until - performance.now()) / 1000;
    if (left <= 0) {
      done();
      return;
    }
    line.textContent = t("autoClose", { time: clock(left) });
    screen.later(1000, tick);
  };
  tick();
  return line;
}
