/**
 * The server's log on stdout: `text` lines for a person at a terminal (the default), or one JSON
 * object per line for a log collector (`AUTOPROG_LOG_FORMAT=json`), or nothing (`AUTOPROG_LOG=silent`).
 * The start is the line that matters most to a new user: in text it is a short block naming the
 * dashboard, the API reference, the health URL and where the first admin key is.
 */
export type LogFormat = "text" | "json" | "silent";

export type Log = (message: string, fields?: Record<string, unknown>) => void;

const stdoutLine = (line: string) => {
  process.stdout.write(`${line}\n`);
};

/** `key=value`, quoted only when the value would not read as one word. */
function textField(key: string, value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return `${key}=${/^[^\s"=]+$/.test(text ?? "") ? text : JSON.stringify(text)}`;
}

export function createLog(format: LogFormat, write: (line: string) => void = stdoutLine): Log {
  return (message, fields = {}) => {
    const time = new Date().toISOString();
    if (format === "json") write(JSON.stringify({ time, message, ...fields }));
    else if (format === "text") {
      const details = Object.entries(fields).map(([key, value]) => textField(key, value));
      write([time, message, ...details].join(" "));
    }
  };
}

/** The start's facts; each URL is one a browser on this machine can open. */
export interface StartInfo {
  /** The address the server is bound to, as a URL (`http://127.0.0.1:8787`). */
  readonly url: string;
  readonly database: string;
  readonly dispatch: string;
  readonly concurrency: number;
  /** The admin-key file, when there is one. */
  readonly adminKeyFile: string | null;
  /** True when this start created the first key (and wrote the file). */
  readonly adminKeyCreated: boolean;
}

/** `http://host:port` for a listen address: IPv6 in brackets, and a wildcard as this machine's loopback. */
export function browseUrl(host: string, port: number): string {
  const wildcard = host === "0.0.0.0" || host === "::" || host === "[::]";
  const name = wildcard ? "127.0.0.1" : host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/** The places a new user looks for first, under the server's URL. */
export function startLinks(url: string) {
  return { dashboard: `${url}/ui/`, reference: `${url}/reference`, health: `${url}/healthz` };
}

/** The start as one log record (json) or a block of lines (text). */
export function logStart(
  format: LogFormat,
  info: StartInfo,
  write: (line: string) => void = stdoutLine,
): void {
  if (format === "silent") return;
  const links = startLinks(info.url);
  if (format === "json") {
    createLog("json", write)("listening", {
      url: info.url,
      ...links,
      adminKeyFile: info.adminKeyFile,
      database: info.database,
      dispatch: info.dispatch,
      concurrency: info.concurrency,
    });
    return;
  }
  const adminKey =
    info.adminKeyFile === null
      ? "none written here (the database already had keys; an admin creates more: autoprog keys create)"
      : `${info.adminKeyFile}${info.adminKeyCreated ? " (created now)" : ""}`;
  const trainers =
    info.dispatch === "workers"
      ? "pull workers (none in this process)"
      : `${info.concurrency} in this process`;
  for (const line of [
    `autoprog is listening on ${info.url}`,
    `  Dashboard      ${links.dashboard}   (sign in with the admin key)`,
    `  API reference  ${links.reference}`,
    `  Health         ${links.health}`,
    `  Admin key      ${adminKey}`,
    `  Database       ${info.database}`,
    `  Trainers       ${trainers}`,
    "Stop with Ctrl+C (running runs go back to the queue).",
  ])
    write(line);
}
