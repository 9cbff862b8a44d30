/**
 * Request logs for the sleep classification: the proxy's access-log lines (containers/nginx, `log_format mlflow`)
 * turned into what the gateway's access log holds of each request (`method`, `path` without the query string, as
 * `$context.path`, and `status`), with the second of the recording it came in. The recorded fixture of the real
 * MLflow UI (fixtures/ui-open-tab.jsonl) is in this form, and the end-to-end test records fresh ones the same way.
 */

/** One request of a recording: `t` seconds after the recording started, `phase` what the browser was doing then. */
export interface RecordedRequest {
  readonly t: number;
  readonly phase: 'load' | 'open';
  readonly method: string;
  readonly path: string;
  readonly status: string;
}

// $remote_addr "$http_x_forwarded_for" $remote_user [$time_local] "$request" $status $body_bytes_sent ...
const PROXY_LINE = /^\S+ "[^"]*" \S+ \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] "(\S+) (\S+) [^"]*" (\d{3}) /;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The requests of proxy access-log lines (other lines skipped), with their time in ms since the epoch. */
export function parseProxyLog(text: string): Array<{ time: number; method: string; path: string; status: string }> {
  const requests: Array<{ time: number; method: string; path: string; status: string }> = [];
  for (const line of text.split('\n')) {
    const m = PROXY_LINE.exec(line);
    if (!m) continue;
    const [, day, month, year, hour, minute, second, zone, method, target, status] = m;
    const iso = `${year}-${String(MONTHS.indexOf(month) + 1).padStart(2, '0')}-${day}T${hour}:${minute}:${second}${zone.slice(0, 3)}:${zone.slice(3)}`;
    requests.push({ time: Date.parse(iso), method, path: target.split('?')[0], status });
  }
  return requests;
}

/** Reads a recording (JSON lines). */
export function readRecording(text: string): RecordedRequest[] {
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')).map((line) => JSON.parse(line) as RecordedRequest);
}
