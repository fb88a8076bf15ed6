// Small helpers every view shares.
import { ApiFailure, authorizedBlob } from "./api";
import type { T } from "./i18n";

export const errorText = (t: T, err: unknown): string =>
  err instanceof ApiFailure
    ? err.error.code === "network"
      ? t("error.network")
      : err.error.message
    : err instanceof Error
      ? ((err as { shortMessage?: string }).shortMessage ?? err.message)
      : String(err);

export const when = (iso: string, t: T) => new Date(iso).toLocaleString(t("lang.label") === "语言" ? "zh-CN" : "en");

/** An object URL for bytes the API serves only with the session's token (images in <img>). */
export async function objectUrl(path: string): Promise<string> {
  return URL.createObjectURL(await authorizedBlob(path));
}
