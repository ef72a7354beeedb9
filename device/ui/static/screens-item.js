// One interview item: a spoken question or a demonstration task. The engine's item view says
// the phase and the time left; this screen shows it, polls for it about every second, and
// sends the candidate's taps. It never starts, stops or moves on by itself.

import { get, post } from "./api.js";
import { app, explain } from "./core.js";
import { deviceProblem } from "./screens-check.js";
import { h, uid } from "./dom.js";
import { clock, pick, t, timeBucket, timeLeftWords, withTimes } from "./i18n.js";

const POLL_MS = 1000;
const TICK_MS = 250;

/**
 * A countdown showing the engine's figure, ticking down between polls. The visible clock is a
 * role=timer (not read out every second); the marks (each minute, 30 s, 10 s) are announced.
 */
class Countdown {
  constructor(screen, label, { big = false, onZero = null } = {}) {
    const labelId = uid("timer");
    this.clock = h("p", { class: "clock", role: "timer", "aria-labelledby": labelId });
    this.el = h("div", { class: big ? "timer big" : "timer" },
                h("p", { id: labelId, class: "timer-label" }, label), this.clock);
    this.onZero = onZero;
    this.value = 0;
    this.at = performance.now();
    this.bucket = null;
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.render();
      screen.later(TICK_MS, tick);
    };
    screen.later(TICK_MS, tick);
  }

  set(seconds) {
    this.value = Math.max(0, Number(seconds) || 0);
    this.at = performance.now();
    this.render();
  }

  left() {
    return Math.max(0, this.value - (performance.now() - this.at) / 1000);
  }

  render() {
    const left = this.left();
    this.clock.textContent = clock(left);
    const bucket = timeBucket(left);
    if (bucket !== this.bucket) {
      const first = this.bucket === null;
      this.bucket = bucket;
      if (bucket === "zero") this.onZero?.();
      else if (!first) app.announce(timeLeftWords(bucket));
    }
  }

  stop() {
    this.stopped = true;
  }
}

export function itemScreen(session) {
  const view = session.current;
  app.show("item", String(view.position), (s) => build(s, view), session, { bar: true });
}

function build(s, first) {
  const item = first.item;
  const isTask = item.kind === "demonstration";
  const part = `${t(isTask ? "task" : "question")} · ${
    t("partOf", { n: first.position + 1, total: first.total })}`;
  s.root.append(h("p", { class: "part" }, part),
                h("h1", { tabindex: "-1", class: isTask ? "task-title" : "prompt" },
                  withTimes(pick(isTask ? item.title : item.prompt), first)));
  // the stage (timer, recording) comes before the instructions: it stays in view at 800×480
  const stage = h("div", { class: "stage" });
  s.root.append(stage);
  if (isTask) {
    const id = uid("instr");
    s.root.append(h("section", { class: "instructions", "aria-labelledby": id },
                    h("h2", { id }, t("instructions")),
                    h("p", {}, withTimes(pick(item.instructions), first))));
  }
  let shown = "";
  let shownFollowUp = "";
  let countdown = null;
  s.update = (session) => {
    const view = session.current;
    const phase = `${view.attempt}:${view.phase}`;
    const followUp = view.follow_up ? pick(view.follow_up.prompt) : "";
    if (phase === shown && followUp === shownFollowUp) {
      countdown?.set(view.phase === "recording" ? view.answer_left_s : view.think_left_s);
      return;
    }
    const active = document.activeElement;
    const hadFocus = !active || active === document.body || stage.contains(active)
      || s.actions.contains(active);
    const before = shown;
    const newPhase = phase !== shown;
    shown = phase;
    shownFollowUp = followUp;
    countdown?.stop();
    countdown = renderStage(s, stage, view, isTask);
    if (before && newPhase) announcePhase(view, countdown);
    else if (followUp) app.announce(`${t("followUp")} ${followUp}`);
    if (before && hadFocus) s.actions.querySelector("button.primary")?.focus();
  };
  app.pollSession(s, POLL_MS);
}

function announcePhase(view, countdown) {
  if (view.phase === "recording") {
    const words = countdown ? timeLeftWords(timeBucket(countdown.left())) : "";
    app.announce(`${t("recordingStarted")} ${words}`.trim());
  } else if (view.phase === "finished") {
    app.announce(t(view.item.kind === "demonstration" ? "taskSaved" : "answerSaved"));
  }
}

function action(label, path, { primary = true, onCaptureDown = false } = {}) {
  const button = h("button", { type: "button", class: primary ? "primary big" : "big" }, label);
  const handlers = onCaptureDown ? { "capture-unavailable": captureDown } : {};
  button.addEventListener("click", () => app.act(button, async () => {
    app.applyView(await post(path));
  }, handlers));
  return button;
}

/** Recording could not start: say which device, plainly (the box has alerted staff). */
function captureDown(err) {
  const screen = app.screen;
  screen?.showError(t("captureDown"), explain(err), { hint: "" });
  get("/capture/status").then((status) => {
    const message = deviceProblem(status);
    if (message && screen?.alive) screen.showError(message, explain(err), { hint: "" });
  }).catch(() => {});
  return true;
}

function renderStage(s, stage, view, isTask) {
  let countdown = null;
  const parts = [];
  const buttons = [];
  if (view.phase === "thinking") {
    const over = h("p", { class: "hint" }, t(isTask ? "prepOver" : "thinkOver"));
    over.hidden = true;
    countdown = new Countdown(s, t(isTask ? "prepTime" : "thinkTime"),
                              { onZero: () => { over.hidden = false; } });
    countdown.set(view.think_left_s);
    parts.push(countdown.el, over);
    buttons.push(action(t(isTask ? "startTask" : "startAnswer"), "/session/answer/start",
                        { onCaptureDown: true }));
  } else if (view.phase === "recording") {
    countdown = new Countdown(s, t("timeLeft"), { big: isTask });
    countdown.set(view.answer_left_s);
    parts.push(h("p", { class: "rec" }, h("span", { class: "dot", "aria-hidden": "true" }),
                 t("recording")),
               countdown.el);
    buttons.push(action(t(isTask ? "finishTask" : "finishAnswer"), "/session/answer/finish"));
  } else if (view.phase === "finished") {
    parts.push(h("p", { class: "saved" }, h("span", { class: "tick", "aria-hidden": "true" }),
                 t(isTask ? "taskSaved" : "answerSaved")));
    const followUp = view.follow_up ? pick(view.follow_up.prompt) : "";
    if (followUp) {
      parts.push(h("div", { class: "follow-up" }, h("p", { class: "follow-up-label" },
                   t("followUp")), h("p", { class: "follow-up-text" }, followUp)));
    }
    const last = view.position + 1 >= view.total;
    if (view.retakes_left > 0) {
      buttons.push(action(t("retake", { n: view.retakes_left }), "/session/answer/retake",
                          { primary: false }));
    }
    buttons.push(action(t(last ? "finishInterview" : "next"), "/session/next"));
    if (view.retakes_left > 0) parts.push(h("p", { class: "hint" }, t("retakeNote")));
  }
  stage.replaceChildren(...parts);
  s.dock(buttons);
  return countdown;
}
