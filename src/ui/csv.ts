/**
 * CSV as RFC 4180 writes it: comma separated, CRLF lines, a field quoted when it holds a comma,
 * a quote or a line break (src/ui/download.ts saves it).
 */
export type CsvCell = string | number | null | undefined;

function field(cell: CsvCell): string {
  if (cell === null || cell === undefined) return "";
  const text = typeof cell === "number" ? (Number.isFinite(cell) ? String(cell) : "") : cell;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return `${[header, ...rows].map((row) => row.map(field).join(",")).join("\r\n")}\r\n`;
}
