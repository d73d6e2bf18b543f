/** Files saved by the browser from data the page holds: no further request leaves the tab. */

/** Saves `blob` as `filename` through a temporary object URL (same origin, revoked once the click has started the download). */
export function downloadBlob(filename: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = filename;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** Saves CSV `text` as `filename`. */
export function downloadCsv(filename: string, text: string): void {
  downloadBlob(filename, new Blob([text], { type: "text/csv;charset=utf-8" }));
}
