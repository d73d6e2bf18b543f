import { PROBLEMS, type ProblemCode } from "../../src/core/problem.ts";

/**
 * The API reference page, rendered on the server from the OpenAPI document: operations grouped
 * by tag with their parameters, request and response schemas, the webhooks, the problem types and
 * every named schema. Plain HTML and one stylesheet, no script: nothing to download, nothing from
 * another host, and it reads the same on Node and Workers. The document is the one at
 * /openapi.json, so the page cannot disagree with it.
 */

/** A JSON object of the document (the generator's types stop at `unknown` for schemas). */
type Json = Record<string, unknown>;

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"] as const;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const objectAt = (value: unknown, key: string): Json => {
  const inner = isObject(value) ? value[key] : undefined;
  return isObject(inner) ? inner : {};
};
const stringAt = (value: unknown, key: string): string | undefined => {
  const inner = isObject(value) ? value[key] : undefined;
  return typeof inner === "string" ? inner : undefined;
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Descriptions use Markdown's `code` spans and nothing else; everything else stays text. */
function prose(text: string | undefined): string {
  if (!text) return "";
  return escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>");
}

/** A fragment id that stays valid whatever the name holds. */
const anchor = (kind: string, name: string) => `${kind}-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;

/** `#/components/<kind>/<Name>` → its entry, so shared responses and parameters read inline. */
function resolveRef(document: Json, value: unknown): Json {
  const ref = stringAt(value, "$ref");
  if (!ref?.startsWith("#/")) return isObject(value) ? value : {};
  let node: unknown = document;
  for (const part of ref.slice(2).split("/")) node = isObject(node) ? node[part] : undefined;
  return isObject(node) ? node : {};
}

/** One line naming a schema's type: a link for a named schema, the element for an array, the values of an enum. */
function typeLabel(schema: unknown): string {
  if (!isObject(schema)) return "any";
  const ref = stringAt(schema, "$ref");
  if (ref) {
    const name = ref.split("/").at(-1) ?? ref;
    return `<a href="#${anchor("schema", name)}">${escapeHtml(name)}</a>`;
  }
  for (const key of ["oneOf", "anyOf", "allOf"] as const) {
    const parts = schema[key];
    if (Array.isArray(parts)) return parts.map(typeLabel).join(key === "allOf" ? " &amp; " : " | ");
  }
  if (Array.isArray(schema.enum)) {
    return `one of ${schema.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(", ")}`;
  }
  if (schema.const !== undefined) return `<code>${escapeHtml(JSON.stringify(schema.const))}</code>`;
  const type = schema.type;
  const name = Array.isArray(type) ? type.join(" | ") : typeof type === "string" ? type : "any";
  if (name === "array") return `array of ${typeLabel(schema.items)}`;
  const details: string[] = [];
  const format = stringAt(schema, "format");
  if (format) details.push(format);
  for (const [key, label] of [
    ["minimum", "≥"],
    ["exclusiveMinimum", ">"],
    ["maximum", "≤"],
    ["exclusiveMaximum", "<"],
    ["minLength", "length ≥"],
    ["maxLength", "length ≤"],
    ["minItems", "items ≥"],
    ["maxItems", "items ≤"],
  ] as const) {
    if (typeof schema[key] === "number") details.push(`${label} ${schema[key]}`);
  }
  const pattern = stringAt(schema, "pattern");
  if (pattern) details.push(`pattern <code>${escapeHtml(pattern)}</code>`);
  return details.length > 0 ? `${escapeHtml(name)} (${details.join(", ")})` : escapeHtml(name);
}

/** The fields of an object schema as a table; a field that is itself an inline object nests its own. */
function schemaBlock(schema: unknown, depth = 0): string {
  if (!isObject(schema)) return "";
  const description = stringAt(schema, "description");
  const properties = objectAt(schema, "properties");
  const names = Object.keys(properties);
  const isUnion = Array.isArray(schema.oneOf) || Array.isArray(schema.anyOf);
  let body = "";
  if (names.length > 0 && depth < 6) {
    const required = new Set(Array.isArray(schema.required) ? schema.required : []);
    const rows = names.map((name) => {
      const field = properties[name];
      const nested =
        isObject(field) && Object.keys(objectAt(field, "properties")).length > 0
          ? schemaBlock(field, depth + 1)
          : isObject(field) &&
              isObject(field.items) &&
              Object.keys(objectAt(field.items, "properties")).length > 0
            ? schemaBlock(field.items, depth + 1)
            : "";
      return (
        `<tr><td><code>${escapeHtml(name)}</code>${required.has(name) ? "" : ' <span class="optional">optional</span>'}</td>` +
        `<td>${typeLabel(nested ? { type: stringAt(field, "type") ?? "object" } : field)}</td>` +
        `<td>${prose(stringAt(field, "description"))}</td></tr>` +
        (nested ? `<tr class="nested"><td colspan="3">${nested}</td></tr>` : "")
      );
    });
    body = `<table class="fields"><thead><tr><th>Field</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  } else if (isUnion) {
    body = `<p>One of: ${typeLabel(schema)}</p>`;
  } else {
    body = `<p>${typeLabel(schema)}</p>`;
  }
  return `${description && depth === 0 ? `<p>${prose(description)}</p>` : ""}${body}`;
}

/** Each media type with its schema: a link to a named one, or an inline object's fields. */
function contentBlock(content: unknown): string {
  return Object.entries(isObject(content) ? content : {})
    .map(([type, media]) => {
      const schema = objectAt(media, "schema");
      const fields = Object.keys(objectAt(schema, "properties")).length > 0 ? schemaBlock(schema, 1) : "";
      return `<p class="media"><code>${escapeHtml(type)}</code>: ${typeLabel(schema)}</p>${fields}`;
    })
    .join("");
}

function parametersBlock(document: Json, parameters: unknown): string {
  if (!Array.isArray(parameters) || parameters.length === 0) return "";
  const rows = parameters.map((p) => {
    const parameter = resolveRef(document, p);
    const schema = objectAt(parameter, "schema");
    const text = stringAt(parameter, "description") ?? stringAt(schema, "description");
    return (
      `<tr><td><code>${escapeHtml(stringAt(parameter, "name") ?? "")}</code>${parameter.required ? "" : ' <span class="optional">optional</span>'}</td>` +
      `<td>${escapeHtml(stringAt(parameter, "in") ?? "")}</td><td>${typeLabel(schema)}</td><td>${prose(text)}</td></tr>`
    );
  });
  return `<h4>Parameters</h4><table class="fields"><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function responsesBlock(document: Json, responses: unknown): string {
  const rows = Object.entries(isObject(responses) ? responses : {}).map(([status, value]) => {
    const response = resolveRef(document, value);
    const headers = Object.keys(objectAt(response, "headers"))
      .map((name) => `<code>${escapeHtml(name)}</code>`)
      .join(", ");
    return (
      `<tr><td><span class="status s${escapeHtml(status[0] ?? "")}">${escapeHtml(status)}</span></td>` +
      `<td>${prose(stringAt(response, "description"))}${contentBlock(response.content)}</td><td>${headers}</td></tr>`
    );
  });
  return rows.length > 0
    ? `<h4>Responses</h4><table class="fields"><thead><tr><th>Status</th><th>Meaning and body</th><th>Headers</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : "";
}

function securityLine(document: Json, operation: Json): string {
  const security = Array.isArray(operation.security) ? operation.security : document.security;
  if (!Array.isArray(security) || security.length === 0) return '<p class="access">No key needed.</p>';
  const schemes = security.flatMap((s) => (isObject(s) ? Object.keys(s) : []));
  const described = schemes.map((name) =>
    prose(
      stringAt(objectAt(objectAt(document, "components"), "securitySchemes")[name], "description") ?? name,
    ),
  );
  return `<p class="access">Authentication: ${described.join(" or ")}</p>`;
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly operation: Json;
}

function operationBlock(document: Json, { method, path, operation }: Operation): string {
  const id = stringAt(operation, "operationId") ?? `${method}-${path}`;
  const body = resolveRef(document, operation.requestBody);
  return (
    `<section class="operation" id="${anchor("op", id)}">` +
    `<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>` +
    `<p class="summary">${prose(stringAt(operation, "summary"))}${operation.deprecated ? ' <span class="deprecated">deprecated</span>' : ""}</p>` +
    (stringAt(operation, "description") ? `<p>${prose(stringAt(operation, "description"))}</p>` : "") +
    securityLine(document, operation) +
    `<p class="operation-id">operationId <code>${escapeHtml(id)}</code></p>` +
    parametersBlock(document, operation.parameters) +
    (isObject(body.content)
      ? `<h4>Request body${body.required ? "" : " (optional)"}</h4>${contentBlock(body.content)}`
      : "") +
    responsesBlock(document, operation.responses) +
    "</section>"
  );
}

function operationsOf(paths: Json): Operation[] {
  return Object.entries(paths).flatMap(([path, item]) =>
    METHODS.filter((m) => isObject(item) && isObject(item[m])).map((method) => ({
      method,
      path,
      operation: objectAt(item, method),
    })),
  );
}

function byTag(operations: readonly Operation[]): Map<string, Operation[]> {
  const groups = new Map<string, Operation[]>();
  for (const entry of operations) {
    const tags = Array.isArray(entry.operation.tags) ? entry.operation.tags : [];
    const tag = typeof tags[0] === "string" ? tags[0] : "other";
    groups.set(tag, [...(groups.get(tag) ?? []), entry]);
  }
  return groups;
}

function problemTable(): string {
  const rows = (Object.keys(PROBLEMS) as ProblemCode[]).map(
    (code) =>
      `<tr><td><code>${code}</code></td><td>${PROBLEMS[code].status}</td><td>${escapeHtml(PROBLEMS[code].title)}</td><td><code>urn:autoprog:problem:${code}</code></td></tr>`,
  );
  return (
    `<section id="problems"><h2>Problem types</h2><p>Every error is an RFC 9457 <code>application/problem+json</code> body ` +
    `(<a href="#${anchor("schema", "Problem")}">Problem</a>): its <code>code</code> is one of these, <code>errors</code> names each bad field ` +
    `(<code>location</code>, <code>path</code>, <code>message</code>), and <code>requestId</code> repeats the <code>X-Request-Id</code> header.</p>` +
    `<table class="fields"><thead><tr><th>code</th><th>Status</th><th>Title</th><th>type</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`
  );
}

/** The whole page for one OpenAPI document. */
export function referencePage(openApi: object, stylesheet: string): string {
  const document: Json = isObject(openApi) ? openApi : {};
  const info = objectAt(document, "info");
  const title = `${stringAt(info, "title") ?? "API"} ${stringAt(info, "version") ?? ""}`.trim();
  const groups = byTag(operationsOf(objectAt(document, "paths")));
  const webhooks = operationsOf(objectAt(document, "webhooks"));
  const schemas = Object.entries(objectAt(objectAt(document, "components"), "schemas"));
  const tocEntry = ({ method, path, operation }: Operation) =>
    `<li><a href="#${anchor("op", stringAt(operation, "operationId") ?? `${method}-${path}`)}"><span class="method ${method}">${method.toUpperCase()}</span> ${escapeHtml(path)}</a></li>`;
  const toc =
    [...groups]
      .map(
        ([tag, entries]) =>
          `<li><a href="#${anchor("tag", tag)}">${escapeHtml(tag)}</a><ul>${entries.map(tocEntry).join("")}</ul></li>`,
      )
      .join("") +
    (webhooks.length > 0
      ? `<li><a href="#webhooks">webhooks sent</a><ul>${webhooks.map(tocEntry).join("")}</ul></li>`
      : "") +
    '<li><a href="#problems">problem types</a></li><li><a href="#schemas">schemas</a></li>';
  const sections = [...groups]
    .map(
      ([tag, entries]) =>
        `<section id="${anchor("tag", tag)}"><h2>${escapeHtml(tag)}</h2>${entries.map((e) => operationBlock(document, e)).join("")}</section>`,
    )
    .join("");
  const webhookSection =
    webhooks.length > 0
      ? `<section id="webhooks"><h2>Webhooks sent</h2><p>Requests this server sends to a registered endpoint (the name is the event type).</p>${webhooks
          .map((e) => operationBlock(document, e))
          .join("")}</section>`
      : "";
  const schemaSection = `<section id="schemas"><h2>Schemas</h2>${schemas
    .map(
      ([name, schema]) =>
        `<section class="schema" id="${anchor("schema", name)}"><h3>${escapeHtml(name)}</h3>${schemaBlock(schema)}</section>`,
    )
    .join("")}</section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${stylesheet}">
</head>
<body>
<nav><p class="brand">${escapeHtml(title)}</p><ul>${toc}</ul></nav>
<main>
<header><h1>${escapeHtml(title)} API reference</h1><p>${prose(stringAt(info, "description"))}</p>
<p>The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). The dashboard: <a href="/ui/">/ui/</a>.</p></header>
${sections}${webhookSection}${problemTable()}${schemaSection}
</main>
</body>
</html>
`;
}

/** The page's styles: system fonts, light or dark as the system says. */
export const REFERENCE_STYLES = `:root{color-scheme:light dark;--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#fff;--code:#f2f4f7;--accent:#0b62c4}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ed;--muted:#9aa4b0;--line:#353c45;--bg:#15181c;--code:#22272e;--accent:#6cb0ff}}
*{box-sizing:border-box}body{margin:0;display:flex;font:15px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:340px;flex:none;padding:16px;border-right:1px solid var(--line);font-size:13px}
nav ul{list-style:none;padding-left:10px;margin:4px 0}nav>ul{padding:0}nav a{color:inherit;text-decoration:none}nav a:hover{color:var(--accent)}
.brand{font-weight:600;font-size:16px;margin:0 0 8px}main{flex:1;min-width:0;padding:16px 32px;max-width:1100px}
a{color:var(--accent)}code{font:13px ui-monospace,monospace;background:var(--code);padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
h2{border-bottom:2px solid var(--line);padding-bottom:4px;margin-top:40px;text-transform:capitalize}
.operation,.schema{border:1px solid var(--line);border-radius:6px;padding:4px 16px 12px;margin:16px 0}
h3{font-size:16px}h4{margin:12px 0 4px;font-size:14px}
.method{display:inline-block;min-width:52px;text-align:center;font:600 12px ui-monospace,monospace;border-radius:3px;padding:2px 4px;color:#fff;background:#6b7280}
.get{background:#1f7a44}.post{background:#0b62c4}.delete{background:#b42318}.put,.patch{background:#9a5b00}
.summary{font-weight:500}.access,.operation-id,.headers{color:var(--muted);font-size:13px}.optional{color:var(--muted);font-size:12px}
.deprecated{color:#b42318;font-weight:600;font-size:12px;text-transform:uppercase}
table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0}th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:var(--code)}td td,td th{font-size:12px}
.status{font:600 13px ui-monospace,monospace;padding:1px 6px;border-radius:3px;background:var(--code)}.s2{color:#1f7a44}.s4,.s5{color:#b42318}
.nested>td{padding-left:24px;border-top:0}.fields td:first-child code{white-space:nowrap}.media{margin:4px 0}td .media{margin:2px 0 0}
@media (max-width:800px){body{display:block}nav{position:static;height:auto;width:auto;border-right:0;border-bottom:1px solid var(--line)}nav ul ul{display:none}nav>ul>li{display:inline-block;margin-right:12px}main{padding:12px}table{display:block;overflow-x:auto}}
`;
