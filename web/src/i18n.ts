// Every string the app shows lives in i18n/<lang>.json; t() looks one up and fills {placeholders}.
import en from "./i18n/en.json";
import zh from "./i18n/zh-CN.json";

export type Lang = "en" | "zh-CN";
export type Key = keyof typeof en;
export const LANGS: { code: Lang; name: string }[] = [
  { code: "en", name: "English" },
  { code: "zh-CN", name: "中文" },
];
const TABLES: Record<Lang, Record<string, string>> = { en, "zh-CN": zh };

export function initialLang(): Lang {
  const saved = localStorage.getItem("datacoop.lang");
  if (saved === "en" || saved === "zh-CN") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function translator(lang: Lang) {
  const table = TABLES[lang];
  return (key: Key, vars: Record<string, string | number> = {}): string =>
    (table[key] ?? en[key] ?? key).replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}
export type T = ReturnType<typeof translator>;
