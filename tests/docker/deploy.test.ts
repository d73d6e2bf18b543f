import { posix } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { execForm, exists, knownSettings, parseDockerfile, read } from "./files.ts";

/** Compose and Kubernetes, read as the tools would read them: names, files and settings that must line up. */

interface ComposeService {
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  container_name?: string;
  healthcheck?: { test: string[] };
  profiles?: string[];
  deploy?: {
    resources?: { reservations?: { devices?: { driver: string; count: number; capabilities: string[] }[] } };
  };
}

const COMPOSE = "docker/compose.yaml";
// Compose honours YAML merge keys (`<<: *trainer`); the parser must too.
const compose = parse(read(COMPOSE), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const service = (name: string): ComposeService => {
  const found = services[name];
  if (!found) throw new Error(`${COMPOSE} has no service ${name}`);
  return found;
};
/** `${NAME:-default}` as Compose resolves it when NAME is unset. */
const unsetDefault = (value: string): string => value.replace(/\$\{\w+:-([^}]*)\}/g, "$1");
const dataDir = (dockerfile: string): string | undefined =>
  parseDockerfile(dockerfile)
    .at(-1)
    ?.steps.filter((s) => s.keyword === "ENV")
    .flatMap((s) => s.args)
    .find((a) => a.startsWith("AUTOPROG_DATA_DIR="))
    ?.split("=")[1];

describe(COMPOSE, () => {
  const api = service("api");
  const trainers = Object.entries(services).filter(([name]) => name.startsWith("trainer"));

  it("builds every service from a Dockerfile that exists, with its own .dockerignore", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.build, `${name} is built here`).toBeDefined();
      const context = posix.join(posix.dirname(COMPOSE), s.build?.context ?? "");
      const dockerfile = posix.join(context, s.build?.dockerfile ?? "");
      expect(context, `${name}: the context is the repository root`).toBe(".");
      expect(exists(dockerfile), `${name}: ${dockerfile}`).toBe(true);
      expect(exists(`${dockerfile}.dockerignore`), `${dockerfile}.dockerignore`).toBe(true);
    }
    expect(service("trainer").build?.dockerfile).toBe("docker/Dockerfile.gpu");
    expect(service("trainer-webgpu").build?.dockerfile).toBe("docker/Dockerfile.webgpu");
    expect(service("trainer-webgpu").profiles).toEqual(["webgpu"]);
  });

  it("names only settings that something reads", () => {
    const known = knownSettings();
    for (const [name, s] of Object.entries(services))
      for (const key of Object.keys(s.environment ?? {}))
        expect(known.has(key), `${name}: ${key}`).toBe(true);
  });

  it("runs the API for pull workers, keeps /data in a named volume and checks /healthz", () => {
    expect(api.environment?.AUTOPROG_DISPATCH).toBe("workers");
    const [volume, mount] = (api.volumes?.[0] ?? "").split(":");
    expect(Object.keys(compose.volumes)).toContain(volume);
    expect(mount).toBe(dataDir("docker/Dockerfile"));
    expect(api.healthcheck?.test[0]).toBe("CMD");
    const image = parseDockerfile("docker/Dockerfile").at(-1);
    const imageCheck = image?.steps.find((s) => s.keyword === "HEALTHCHECK")?.text.replace(/^.*?CMD\s+/, "");
    expect(api.healthcheck?.test.slice(1)).toEqual(execForm(imageCheck ?? ""));
  });

  it("lets the API answer to the names it is called by", () => {
    const allowed = unsetDefault(api.environment?.AUTOPROG_ALLOWED_HOSTS ?? "").split(",");
    for (const [name, s] of trainers) {
      const url = new URL(s.environment?.AUTOPROG_API_URL ?? "");
      expect(services[url.hostname], `${name} calls a service`).toBe(api);
      expect(url.port).toBe("8787");
      expect(allowed).toContain(url.hostname);
    }
    // The healthcheck's and the published port's host names.
    expect(allowed).toEqual(expect.arrayContaining(["127.0.0.1", "localhost"]));
  });

  it("scales the trainers: each waits for a healthy API, reserves a GPU and has no fixed name or port", () => {
    expect(trainers.length).toBeGreaterThan(0);
    for (const [name, s] of trainers) {
      expect(s.depends_on?.api?.condition, name).toBe("service_healthy");
      expect(s.environment?.AUTOPROG_API_KEY, "the key from .env, never in the file").toMatch(
        /^\$\{AUTOPROG_API_KEY:-\}$/,
      );
      expect(s.deploy?.resources?.reservations?.devices).toEqual([
        { driver: "nvidia", count: 1, capabilities: ["gpu"] },
      ]);
      expect(s.container_name, `${name}: --scale needs generated names`).toBeUndefined();
      expect(s.ports, `${name}: --scale cannot publish one port N times`).toBeUndefined();
    }
  });
});

interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}
interface Container {
  image: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  resources?: { limits?: Record<string, unknown> };
  volumeMounts?: { name: string; mountPath: string }[];
  readinessProbe?: {
    httpGet: { path: string; port: string; httpHeaders?: { name: string; value: string }[] };
  };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    containers: Container[];
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
  };
}

describe("examples/kubernetes", () => {
  const objects = ["api.yaml", "trainers.yaml"].flatMap((file) =>
    parseAllDocuments(read(`examples/kubernetes/${file}`)).map((doc) => {
      expect(doc.errors, file).toEqual([]);
      return doc.toJS() as K8sObject;
    }),
  );
  const find = (kind: string, name: string): K8sObject => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name}`);
    return found;
  };
  const template = (o: K8sObject) => o.spec.template as PodTemplate;
  const container = (o: K8sObject): Container => {
    const [only] = template(o).spec.containers;
    if (!only) throw new Error(`${o.metadata.name} has no container`);
    return only;
  };
  const env = (c: Container) => new Map((c.env ?? []).map((e) => [e.name, e]));
  const api = find("Deployment", "autoprog-api");
  const trainer = find("Deployment", "autoprog-trainer");
  const svc = find("Service", "autoprog-api");

  it("selects its own pods and runs them as non-root, on pinned images", () => {
    for (const deployment of [api, trainer]) {
      const selector = (deployment.spec.selector as { matchLabels: Record<string, string> }).matchLabels;
      expect(template(deployment).metadata.labels).toMatchObject(selector);
      expect(template(deployment).spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
      });
      expect(container(deployment).image).toMatch(/^[\w./-]+:[\w.-]+$/);
    }
    expect(template(api).metadata.labels).toMatchObject(svc.spec.selector as Record<string, string>);
  });

  it("keeps one API pod on its volume, at the image's data folder", () => {
    expect(api.spec.replicas).toBe(1);
    expect(api.spec.strategy).toEqual({ type: "Recreate" });
    const mount = container(api).volumeMounts?.[0];
    expect(mount?.mountPath).toBe(dataDir("docker/Dockerfile"));
    const volume = template(api).spec.volumes?.find((v) => v.name === mount?.name);
    find("PersistentVolumeClaim", volume?.persistentVolumeClaim?.claimName ?? "");
    expect(env(container(api)).get("AUTOPROG_DISPATCH")?.value).toBe("workers");
  });

  it("points the trainers at the Service, with the worker key from a Secret and one GPU each", () => {
    const vars = env(container(trainer));
    const url = new URL(vars.get("AUTOPROG_API_URL")?.value ?? "");
    expect(url.hostname).toBe(svc.metadata.name);
    expect(url.port).toBe(String((svc.spec.ports as { port: number }[])[0]?.port));
    expect(vars.get("AUTOPROG_API_KEY")?.valueFrom?.secretKeyRef).toEqual({
      name: "autoprog-worker",
      key: "api-key",
    });
    expect(container(trainer).resources?.limits?.["nvidia.com/gpu"]).toBe(1);
  });

  it("lets the API answer to the Service name and to its probes", () => {
    const allowed = (env(container(api)).get("AUTOPROG_ALLOWED_HOSTS")?.value ?? "").split(",");
    expect(allowed).toContain(svc.metadata.name);
    const probe = container(api).readinessProbe?.httpGet;
    expect(probe?.path).toBe("/healthz");
    expect(allowed).toContain(probe?.httpHeaders?.find((h) => h.name === "Host")?.value);
  });

  it("names only settings that something reads", () => {
    const known = knownSettings();
    for (const deployment of [api, trainer])
      for (const name of env(container(deployment)).keys()) expect(known.has(name), name).toBe(true);
  });
});
