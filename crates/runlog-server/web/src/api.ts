// The JSON of /runlog/api (docs/server.md), fetched with the bearer
// token that the user gave, if the server asks for one.

/** A float as the server writes it: a number, or "NaN", "Infinity", "-Infinity". */
export type Float = number | string;

/** A metric's summary in a run row. */
export interface Summary {
  last: Float;
  min: Float;
  max: Float;
  count: number;
  last_step: number;
}

/** One row of the run list. */
export interface RunRow {
  id: string;
  name: string;
  experiment: string;
  experiment_id: string;
  status: string;
  start_ms: number;
  end_ms: number | null;
  last_write_ms: number;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, Summary>;
}

/** A run's row and everything it holds. */
export interface RunDetail extends RunRow {
  columns: string[];
  texts: string[];
  logs: LogStream[];
  artifacts: Artifact[];
}

/** A run's log stream. */
export interface LogStream {
  name: string;
  lines: number;
  bytes: number;
}

/** An artifact of a run. */
export interface Artifact {
  path: string;
  size: number;
  media_type: string;
  time_ms: number;
  step: number | null;
}

/** A downsampled history: per bucket, its last point and its min and max. */
export interface History {
  name: string;
  steps: number[];
  timestamps: number[];
  counts: number[];
  values: Float[];
  min: Float[];
  max: Float[];
}

/** Log lines from a cursor. */
export interface LogLines {
  first_line: number;
  lines: string[];
  /** The text after the last newline, if the stream ends without one. */
  unterminated: string | null;
  next: number;
}

/** One value of a text series. */
export interface TextPoint {
  step: number;
  timestamp: number;
  value: string;
}

const TOKEN_KEY = "runlog.token";

/** Thrown when the server wants a token that the page does not have. */
export class NeedToken extends Error {}

function headers(): HeadersInit {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Keeps the token that requests carry. */
export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

async function fetchOk(path: string): Promise<Response> {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401) throw new NeedToken("the server asks for a token");
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body.message) message = body.message;
    } catch {
      // The body was not JSON; the status says enough.
    }
    throw new Error(`${path}: ${message}`);
  }
  return response;
}

/** GETs `path` with `query` and decodes its JSON. */
export async function get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const search = params.toString();
  const response = await fetchOk(search ? `${path}?${search}` : path);
  return (await response.json()) as T;
}

/** An artifact's bytes, as an object URL (images carry the token too). */
export async function artifactUrl(run: RunRow, path: string): Promise<string> {
  const response = await fetchOk(artifactPath(run, path));
  return URL.createObjectURL(await response.blob());
}

/** Where the MLflow artifact route serves a run's file. */
export function artifactPath(run: RunRow, path: string): string {
  const parts = path.split("/").map(encodeURIComponent).join("/");
  return `/api/2.0/mlflow-artifacts/artifacts/${run.experiment_id}/${run.id}/artifacts/${parts}`;
}

/** A float of the wire as a number (NaN for the non-finite strings' NaN). */
export function num(value: Float): number {
  if (typeof value === "number") return value;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return NaN;
}
