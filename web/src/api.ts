// The node's /v1 API: JSON calls, errors as {field, message}, and uploads with progress and retries.

export type ApiError = { status: number; code: string; field: string | null; message: string };

export class ApiFailure extends Error {
  constructor(public readonly error: ApiError) {
    super(error.message);
  }
}

let token: string | null = null;
export const setToken = (value: string | null) => {
  token = value;
};

function failure(status: number, body: unknown): ApiFailure {
  const e = (body as { error?: Partial<ApiError> } | null)?.error;
  return new ApiFailure({
    status,
    code: e?.code ?? "http_error",
    field: e?.field ?? null,
    message: e?.message ?? `HTTP ${status}`,
  });
}

export async function api<R>(method: string, path: string, body?: unknown): Promise<R> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure({ status: 0, code: "network", field: null, message: "network" });
  }
  const data: unknown = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw failure(response.status, data);
  return data as R;
}

/** Every row of a keyset-paged list: each page's X-Next-Cursor header is the next page's `after`. */
export async function apiAll<R>(path: string): Promise<R[]> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const rows: R[] = [];
  let after: string | null = null;
  do {
    const url = new URL(`/v1${path}`, window.location.origin);
    url.searchParams.set("limit", "500");
    if (after !== null) url.searchParams.set("after", after);
    let response: Response;
    try {
      response = await fetch(url.pathname + url.search, { headers });
    } catch {
      throw new ApiFailure({ status: 0, code: "network", field: null, message: "network" });
    }
    const data: unknown = await response.json().catch(() => null);
    if (!response.ok) throw failure(response.status, data);
    rows.push(...(data as R[]));
    after = response.headers.get("X-Next-Cursor");
  } while (after !== null);
  return rows;
}

/** Bytes the API serves only to the signed-in caller (fetch with the token; <img> cannot). */
export async function authorizedBlob(path: string): Promise<globalThis.Blob> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers });
  if (!response.ok) throw failure(response.status, await response.json().catch(() => null));
  return response.blob();
}

export type Blob = { cid: string; size: number };

function uploadOnce(file: File, onProgress: (fraction: number) => void): Promise<Blob> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/blobs");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: reported by status below */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as Blob);
      else reject(failure(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiFailure({ status: 0, code: "network", field: null, message: "network" }));
    xhr.send(file);
  });
}

export const UPLOAD_TRIES = 3;

/** Upload with progress; network errors and 5xx answers are retried with a growing pause. */
export async function upload(
  file: File,
  onProgress: (fraction: number) => void,
  onRetry: (attempt: number) => void,
): Promise<Blob> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await uploadOnce(file, onProgress);
    } catch (err) {
      const retryable = err instanceof ApiFailure && (err.error.status === 0 || err.error.status >= 500);
      if (!retryable || attempt >= UPLOAD_TRIES) throw err;
      onRetry(attempt + 1);
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  }
}
