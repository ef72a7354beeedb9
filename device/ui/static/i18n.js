// Strings of the touchscreen in zh-CN, en and ko (i18n.json), and number/time formats.

export const LANGUAGES = ["zh-CN", "en", "ko"];
const FALLBACK = "en";

let strings = {};
let current = FALLBACK;

/** Load i18n.json once at start-up; throws when it cannot be read. */
export async function loadStrings() {
  const response = await fetch("/ui/i18n.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`i18n.json: HTTP ${response.status}`);
  strings = await response.json();
}

export function language() {
  return current;
}

/** Switch the interface language; the page's lang attribute follows. */
export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : FALLBACK;
  document.documentElement.lang = current;
  document.title = t("appTitle");
}

/** The string for key in the current (or given) language, with {name} placeholders filled. */
export function t(key, params = {}, lang = current) {
  const text = strings[lang]?.[key] ?? strings[FALLBACK]?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A job package's localized text ({"zh-CN": ..., "en": ..., "ko": ...}) in the current language. */
export function pick(localized, lang = current) {
  if (localized === null || localized === undefined) return "";
  if (typeof localized === "string") return localized;
  return localized[lang] ?? localized[FALLBACK] ?? Object.values(localized)[0] ?? "";
}

/** A countdown reading, m:ss. */
export function clock(seconds) {
  const whole = Math.max(0, Math.ceil(seconds));
  const m = Math.floor(whole / 60);
  const s = whole % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

/** A duration in words ("1 min 5 s"). */
export function duration(seconds) {
  const whole = Math.max(0, Math.round(seconds || 0));
  const m = Math.floor(whole / 60);
  const s = whole % 60;
  return m > 0 ? t("minSec", { m, s }) : t("sec", { s });
}

/** A time allowed, in words: whole minutes as minutes ("12 minutes"), else "1 min 5 s". */
export function allowedTime(seconds) {
  const whole = Math.max(0, Math.round(seconds || 0));
  return whole >= 60 && whole % 60 === 0 ? t("minutes", { m: whole / 60 }) : duration(whole);
}

/** A job package text with its {answer_time} and {think_time} filled from the item view: the
 * time the timer allows, extra time included. */
export function withTimes(text, view) {
  return text.replace(/\{(answer_time|think_time)\}/g, (whole, name) => {
    const seconds = view?.[`${name}_s`];
    return typeof seconds === "number" ? allowedTime(seconds) : whole;
  });
}

/** What a screen reader hears about the time left, or "" between the announced marks. */
export function timeLeftWords(bucket) {
  if (bucket.startsWith("m")) {
    const n = Number(bucket.slice(1));
    return n === 1 ? t("oneMinuteLeft") : t("minutesLeft", { n });
  }
  if (bucket === "s30" || bucket === "s10") return t("secondsLeft", { n: bucket.slice(1) });
  return "";
}

/** The announcement mark a countdown is in: whole minutes, then 30 s, then 10 s. */
export function timeBucket(seconds) {
  if (seconds > 60) return `m${Math.ceil(seconds / 60)}`;
  if (seconds > 30) return "m1";
  if (seconds > 10) return "s30";
  if (seconds > 0) return "s10";
  return "zero";
}
